package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// ErrUnreachable: nothing accepted a connection at the address.
var ErrUnreachable = errors.New("etcp: node unreachable")

// Probe opens a connection to the node at addr as this node's remote
// would, proves this node to it and reads its first word, so that a node
// that is down, or that refuses this node's certificate or cookie, is
// reported at once rather than after protoactor's connection retries
// (2 s each). It fails with [ErrUnreachable] when nothing accepts at
// addr, and with [ErrUnauthenticated] when either side refuses the
// other (a certificate not trusted, another cookie, TLS on one side
// only). Both wrap the cause: syscall.ECONNREFUSED when nothing listens
// at addr, a net.Error whose Timeout is true when ctx ended first.
func (n *Node) Probe(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	switch {
	case n.tls != nil:
		cfg := n.tls.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrUnauthenticated, addr, err)
		}
		conn = tc
	case n.cookie != nil:
		c, _, err := n.cookie.ClientHandshake(ctx, addr, conn)
		if err != nil {
			if errors.Is(err, ErrUnauthenticated) {
				return fmt.Errorf("%w (%s)", err, addr)
			}
			return fmt.Errorf("%w: %s does not answer etcp's cookie handshake: does it require TLS? (%w)", ErrUnauthenticated, addr, err)
		}
		conn = c
	}
	// A gRPC server sends its settings as soon as the connection is up;
	// the client's preface first, which a TLS server rejects at once.
	if _, err := conn.Write([]byte(http2Preface)); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
	}
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		return fmt.Errorf("%w: %s closed the connection: %w", ErrUnauthenticated, addr, err)
	}
	return nil
}

// http2Preface opens every HTTP/2 connection (RFC 9113 3.4).
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
