package behaviours

import (
	"crypto/tls"
	"log/slog"
	"net"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/transport"
)

// Conn is the metadata of one connection, handed to every callback. Its
// methods may be called only from inside a callback (the actor's
// goroutine), where they never race with the connection's own work.
type Conn interface {
	// Self is the PID of the connection's actor: use it to register the
	// connection or hand it to others.
	Self() *actor.PID
	// ID is the connection's number, unique within its server, client or pool.
	ID() uint64
	// Context is the actor context the callback runs in: send to other
	// actors, spawn children, watch. Valid only during the callback. A
	// connection does not passivate while it has children, nor at all
	// once another actor has watched it. In
	// HandlePacket its Message and Sender are not the packet's (socket
	// reads bypass protoactor's envelopes).
	Context() actor.Context
	// LocalAddr and RemoteAddr are the socket's addresses.
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	// Transport names the current transport ("tcp", "tls", "unix"...); it
	// changes after [Result.StartTLS].
	Transport() string
	// TLS is the negotiated TLS state, or nil on a plain connection.
	TLS() *tls.ConnectionState
	// Passive reports whether the connection is in passive mode.
	Passive() bool
	// SocketOptions and SetSocketOptions read and change the socket's
	// options (nodelay, keep-alive, buffer sizes).
	SocketOptions() (transport.SocketOptions, error)
	SetSocketOptions(transport.SocketOptions) error
	// Logger is the connection's logger, tagged with its id and peer.
	Logger() *slog.Logger
	// ReplyTo answers a caller kept from an earlier HandleCall, at once,
	// from any callback, Terminate included. (A Result's ReplyTo answers
	// once the packets of its Result are written.) An error value reaches
	// the caller as its error.
	ReplyTo(from From, v any)
	// Writable reports whether the bytes sent to the connection and not
	// yet written are below its high watermark (see [Writability]).
	Writable() bool
	// SetBackPressure turns back-pressure on (the default) or off for this
	// connection. On, the connection stops reading its socket while more
	// than the high watermark of bytes wait to be written, and reads again
	// at the low one; off, it reads on and the handler manages writability
	// itself (HandleInfo hears [Writability] either way).
	SetBackPressure(on bool)
	// Register registers the connection under name in its registry (its
	// owner's: local by default, a cluster one if so configured), for
	// example once a login packet said who the peer is; the name is
	// released when the connection ends, whatever ends it. A name another
	// connection holds fails with an error matching registry.ErrNameTaken.
	Register(name string) error
	// Unregister releases a name Register took.
	Unregister(name string) error
}

// Writability reaches HandleInfo when the bytes sent to the connection
// (by its handler's Results, SendSync, SendAsync, a pool, another node)
// and not yet taken by its socket pass the high watermark (Writable
// false: the peer reads slower than it is sent to) and when they drain
// back to the low one (Writable true).
type Writability struct {
	Writable bool
	Queued   int // bytes queued when it changed
}

// From is a caller waiting for a reply to a call. It can be kept and
// answered later, from any callback, with [Result.ReplyTo]; answering it
// twice sends the caller only the first reply.
type From struct {
	pid *actor.PID
}

// NewFrom wraps the PID a reply goes to. The connection actor makes these;
// handlers receive them.
func NewFrom(pid *actor.PID) From { return From{pid: pid} }

// PID is where the reply goes (a protoactor future PID).
func (f From) PID() *actor.PID { return f.pid }

// Valid reports whether f holds a caller.
func (f From) Valid() bool { return f.pid != nil }
