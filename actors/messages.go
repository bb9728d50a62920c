package actors

// The messages below are what a connection actor understands besides
// socket events; anything else reaches the handler's HandleInfo. The
// client package sends them for you.

// Call is a synchronous request: send it with RequestFuture; the reply is
// a *Reply.
type Call struct{ Request any }

// Cast is an asynchronous request for HandleCast.
type Cast struct{ Message any }

// Event is a message for HandleEvent.
type Event struct{ Event any }

// Reply answers a Call (and the acknowledged requests below). Err is set
// when the handler replied with an error value, or the request failed.
type Reply struct {
	Value any
	Err   error
}

// Send writes Data to the socket, framed. With RequestFuture the reply (a
// *Reply) comes once the bytes are written; sent without a sender, a write
// error ends the connection.
type Send struct{ Data []byte }

// Stop ends the connection with Reason (nil is normal): Terminate runs,
// the socket closes, and a *Reply acknowledges it when requested.
type Stop struct{ Reason error }

// CodeChange asks the handler to migrate its state (Handler.CodeChange);
// a *Reply acknowledges it.
type CodeChange struct {
	OldVersion string
	Extra      any
}

// GetState asks for the handler's state (Erlang's sys:get_state); the
// *Reply holds StateReader.State() or the handler itself.
type GetState struct{}

// SetTrace turns tracing on (a non-nil Tracer) or off, like sys:trace.
type SetTrace struct{ Tracer Tracer }

// Info returns the connection's [ConnInfo] in a *Reply.
type Info struct{}

// Hibernate asks the connection to hibernate once this message is handled,
// as if a callback had returned Result.Hibernate (remote supervision asks
// it of idle connections); a *Reply acknowledges it. Any later message,
// bytes or a close wake it.
type Hibernate struct{}

// ConnUp tells the actor a connection was spawned for (a pool's) that it started: Err is nil once Init accepted it, or
// says why the handshake or Init failed ([ErrDeclined] for a decline).
type ConnUp struct {
	Info ConnInfo
	Err  error
}

// ConnDown tells the same actor that a connection that came up has
// ended, after its Terminate, with the final reason (nil for a normal
// end).
type ConnDown struct {
	Info   ConnInfo
	Reason error
}
