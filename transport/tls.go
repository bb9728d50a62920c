package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
)

// TLS returns the transport that runs crypto/tls over [TCP]. cfg is cloned;
// a listener needs a certificate in it (Certificates, GetCertificate or
// GetConfigForClient). A dial with no cfg.ServerName verifies the host it
// dialled.
//
// Neither Accept nor Dial handshakes: the handshake runs in
// [Conn.Handshake], in the connection's own actor, so a slow peer never
// holds up an acceptor. The connections implement
// ConnectionState() tls.ConnectionState, and deliberately not
// [syscall.Conn]: bytes on the socket are not application bytes.
func TLS(cfg *tls.Config) Transport {
	if cfg != nil {
		cfg = cfg.Clone()
	}
	return &tlsTransport{cfg: cfg}
}

type tlsTransport struct{ cfg *tls.Config }

func (*tlsTransport) Name() string { return "tls" }

func (t *tlsTransport) Listen(ctx context.Context, addr string, o *Options) (Listener, error) {
	if c := t.cfg; c == nil || len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
		return nil, fmt.Errorf("%w: a TLS listener needs a certificate", ErrInvalidOptions)
	}
	ln, err := TCP().Listen(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	return &tlsListener{Listener: ln, cfg: t.cfg}, nil
}

func (t *tlsTransport) Dial(ctx context.Context, addr string, o *Options) (Conn, error) {
	raw, err := TCP().Dial(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	cfg := t.cfg
	if cfg == nil || cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg = withServerName(cfg, host)
	}
	return newTLSConn(tls.Client(raw, cfg), raw), nil
}

// withServerName returns a copy of cfg (which may be nil) naming host.
func withServerName(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	cfg.ServerName = host
	return cfg
}

type tlsListener struct {
	Listener
	cfg *tls.Config
}

// Accept returns the next connection wrapped for TLS, not yet handshaken.
func (l *tlsListener) Accept() (Conn, error) {
	raw, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newTLSConn(tls.Server(raw, l.cfg), raw), nil
}

// UpgradeTLS turns a live plain connection into a TLS one (STARTTLS): the
// server side when server is true, else the client side. As with [TLS], the
// handshake runs in [Conn.Handshake]. A client cfg with no ServerName
// verifies the peer's IP address. After the upgrade, c belongs to the
// returned Conn: read, write and close only through it.
func UpgradeTLS(c Conn, cfg *tls.Config, server bool) Conn {
	if server {
		if cfg == nil {
			cfg = &tls.Config{} // fails the handshake cleanly: no certificate
		}
		return newTLSConn(tls.Server(c, cfg), c)
	}
	if cfg == nil || cfg.ServerName == "" {
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			cfg = withServerName(cfg, a.IP.String())
		}
	}
	return newTLSConn(tls.Client(c, cfg), c)
}

// tlsConn is a TLS session over raw. Embedding *tls.Conn gives net.Conn and
// ConnectionState, and no SyscallConn, on purpose.
type tlsConn struct {
	*tls.Conn
	raw Conn
}

func newTLSConn(tc *tls.Conn, raw Conn) *tlsConn { return &tlsConn{Conn: tc, raw: raw} }

func (c *tlsConn) Handshake(ctx context.Context) error { return c.HandshakeContext(ctx) }

func (*tlsConn) Transport() string { return "tls" }

// CloseWrite sends close_notify, then half-closes the socket.
func (c *tlsConn) CloseWrite() error {
	if err := c.Conn.CloseWrite(); err != nil {
		return err
	}
	return c.raw.CloseWrite()
}

func (c *tlsConn) SocketOptions() (SocketOptions, error) { return c.raw.SocketOptions() }

func (c *tlsConn) SetSocketOptions(s SocketOptions) error { return c.raw.SetSocketOptions(s) }
