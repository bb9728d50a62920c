package behaviours

import "time"

// Handler is the behaviour of one connection: etcp's callbacks as Go
// methods. The connection's actor calls them one at a time, never
// concurrently, so a handler's fields are its state and need no locks.
// Embed [Base] and write only the callbacks you use.
//
// Every callback but Terminate and CodeChange returns a [Result] saying
// what happens next. A callback that panics ends the connection with an
// error naming the callback; Terminate still runs.
type Handler interface {
	// Init runs once the socket is connected or accepted (after any TLS
	// handshake), before any other callback. arg is the init argument
	// given to the server, client or pool (a server's ListenInit may have
	// replaced it). Return [Decline] to close quietly (etcp's ignore).
	Init(c Conn, arg any) Result
	// HandlePacket runs for each frame read from the socket. p is valid
	// only until the callback returns: copy it to keep it.
	HandlePacket(c Conn, p []byte) Result
	// HandleCall runs for a synchronous request. Reply with
	// [Result.Reply] now, or keep from and reply later with
	// [Result.ReplyTo]. The library never replies for you.
	HandleCall(c Conn, req any, from From) Result
	// HandleCast runs for an asynchronous request.
	HandleCast(c Conn, msg any) Result
	// HandleEvent runs for an event: a third kind of message, kept apart
	// from casts.
	HandleEvent(c Conn, ev any) Result
	// HandleInfo runs for any other message that reaches the actor.
	HandleInfo(c Conn, msg any) Result
	// HandleDisconnect runs when the peer closes the connection (its FIN:
	// it may only have shut down its write side). Unless it asks for
	// something else, Terminate then runs with a nil reason. With
	// half-close on (actors.WithHalfClose) the connection stays up for
	// writing instead, until a Result closes or stops it (or shuts its
	// own write side: [Result.CloseWrite]) or a write fails.
	HandleDisconnect(c Conn) Result
	// Timeout runs when nothing arrived within the timeout last asked for
	// with [Result.Timeout].
	Timeout(c Conn) Result
	// SocketReadTimeout (etcp's srtimeout) runs in passive mode when a read
	// asked for with [Result.Recv] did not complete within its timeout.
	SocketReadTimeout(c Conn) Result
	// Terminate runs exactly once, whatever ends the connection; the socket
	// is closed after it. reason is nil for a normal end. The error it
	// returns replaces the reason the connection ends with.
	Terminate(c Conn, reason error) error
	// CodeChange migrates the connection's state to a new version while it
	// lives: Go cannot reload code, so it returns the handler (of the same
	// or a new type) that serves the connection from now on.
	CodeChange(c Conn, oldVersion string, extra any) (Handler, error)
}

// ListenIniter is implemented by server handlers that need etcp's
// listen_init: it runs once, when the listening socket is open and before
// acceptors start. It returns the init argument every connection's Init
// receives (arg unchanged, or a replacement), or an error to refuse to
// start the server.
type ListenIniter interface {
	// ListenInit returns the init argument for every connection, or an
	// error that makes server.Start fail.
	ListenInit(info ListenInfo, arg any) (any, error)
}

// ListenInfo describes a server's listening socket to [ListenIniter].
type ListenInfo struct {
	Name      string // the server's name
	Addr      string // the bound address
	Transport string // the transport's name
}

// StateReader is implemented by handlers that give a consistent snapshot
// of their state for debugging (Erlang's sys:get_state). It runs inside
// the connection's actor. Handlers without it report themselves.
type StateReader interface {
	// State returns a snapshot of the handler's state.
	State() any
}

// Factory makes a new handler for each connection.
type Factory func() Handler

// Never is a timeout that never fires; pass it to [Result.Timeout] to clear
// a timeout asked for earlier.
const Never time.Duration = -1
