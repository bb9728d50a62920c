package transport

import (
	"context"
	"net"
	"time"
)

// Transport creates listeners and outgoing connections. Implementations
// must be safe for concurrent use.
type Transport interface {
	// Name is a short lower-case name, such as "tcp" or "tls".
	Name() string
	// Listen opens a listening socket on addr.
	Listen(ctx context.Context, addr string, o *Options) (Listener, error)
	// Dial connects to addr. It honours ctx's deadline; callers apply
	// [Options.ConnectTimeout].
	Dial(ctx context.Context, addr string, o *Options) (Conn, error)
}

// Listener accepts connections. Accept is called from several acceptors at
// once; SetDeadline wakes them all (it is how acceptors are put to sleep
// without closing the socket).
type Listener interface {
	// Accept waits for the next connection. It performs no handshake: that
	// runs later, in the connection's own actor.
	Accept() (Conn, error)
	// Close closes the listening socket; blocked Accept calls return.
	Close() error
	// Addr is the bound address (the real port when listening on port 0).
	Addr() net.Addr
	// SetDeadline makes Accept calls blocked now and later fail with a
	// timeout once t passes; the zero time clears it.
	SetDeadline(t time.Time) error
}

// Conn is one connected socket.
type Conn interface {
	net.Conn
	// Handshake completes any set-up the transport needs (TLS), bounded by
	// ctx. Plain transports return nil at once.
	Handshake(ctx context.Context) error
	// CloseWrite shuts down the sending side (a half-close).
	CloseWrite() error
	// Transport names the transport that made this connection.
	Transport() string
	// SocketOptions reads the socket's current options.
	SocketOptions() (SocketOptions, error)
	// SetSocketOptions changes the socket's options.
	SetSocketOptions(SocketOptions) error
}

// Plain reports whether c needs no handshake: a TCP or Unix connection of
// this package (the connection actor then skips the handshake's timer).
func Plain(c Conn) bool {
	_, ok := c.(plain)
	return ok
}

// plain is implemented by the connections whose Handshake does nothing.
type plain interface{ plain() }

func (tcpConn) plain()  {}
func (unixConn) plain() {}
