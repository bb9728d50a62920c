package actors

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

var _ behaviours.Conn = (*conn)(nil)

// Self is the connection actor's PID.
func (c *conn) Self() *actor.PID { return c.self }

// ID is the connection's number within its owner.
func (c *conn) ID() uint64 { return c.id }

// Context is the actor context of the callback being run.
func (c *conn) Context() actor.Context { return c.ctx }

// LocalAddr is the socket's local address.
func (c *conn) LocalAddr() net.Addr { return c.sock.LocalAddr() }

// RemoteAddr is the peer's address.
func (c *conn) RemoteAddr() net.Addr { return c.sock.RemoteAddr() }

// Transport names the socket's current transport.
func (c *conn) Transport() string { return c.sock.Transport() }

// TLS is the negotiated TLS state, or nil on a plain socket.
func (c *conn) TLS() *tls.ConnectionState {
	if s, ok := c.sock.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := s.ConnectionState()
		return &st
	}
	return nil
}

// Passive reports whether the connection is in passive mode.
func (c *conn) Passive() bool { return c.passive }

// SocketOptions reads the socket's options.
func (c *conn) SocketOptions() (transport.SocketOptions, error) { return c.sock.SocketOptions() }

// SetSocketOptions changes the socket's options.
func (c *conn) SetSocketOptions(o transport.SocketOptions) error { return c.sock.SetSocketOptions(o) }

// Logger is the connection's logger, tagged with its id and peer.
func (c *conn) Logger() *slog.Logger {
	if c.log == nil {
		base := c.g.logger
		if base == nil {
			base = slog.Default()
		}
		peer := "none"
		if a := c.sock.RemoteAddr(); a != nil {
			peer = a.String()
		}
		c.log = base.With("conn", c.id, "peer", peer)
	}
	return c.log
}

// logs reports whether the connection's logger logs at level. The
// library's own lines at levels usually off (Debug) ask first, so that a
// connection that ends with a reason does not build its tagged logger,
// nor box the line's arguments, for nothing.
func (c *conn) logs(level slog.Level) bool {
	l := c.log
	if l == nil {
		if l = c.g.logger; l == nil {
			l = slog.Default()
		}
	}
	return l.Enabled(context.Background(), level)
}

// ReplyTo answers a kept caller at once.
func (c *conn) ReplyTo(from behaviours.From, v any) {
	if from.Valid() {
		c.sendReply(from.PID(), v)
	}
}
