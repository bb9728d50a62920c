// Package actors is the machinery under etcp's servers, clients and pools:
// the protoactor actor that owns one connection, and the acceptors that
// feed it. Packages server, client and pool build on it; users meet it
// through the messages it understands, its errors, and its tracing.
//
// # The connection actor
//
// Every TCP connection, accepted or dialled, is one [Conn] actor that
// owns the socket. Its reader turns bytes into frames in the actor's
// mailbox; calls, casts, events and any other message arrive in the same
// mailbox. The actor runs the handler's callbacks (package behaviours) one
// at a time and applies the Result each returns, in one place: packets
// are written, replies sent, the timeout and mode changed, then the
// connection closes, stops or hibernates as asked. At most one read is in
// flight, so a slow handler slows its own peer through TCP back-pressure.
// On Linux, the readers of idle connections park on a shared poller and
// hold no goroutine.
//
// # Idle connections and hibernation
//
// A reader with nothing to read for [ConnOptions].ParkAfter (default
// [DefaultParkAfter]) parks on the shared poller, which restarts it when
// bytes or a close arrive. Hibernation (asked for by a Result, or after
// IdleHibernate) parks at once, gives back buffers and timers, and then
// passivates the actor: its protoactor context, its Conn and its net.Conn
// go, and a small record keeps the handler and the socket's descriptor
// under the same PID. Any message to the PID, bytes or a close spawn the
// actor again with the same PID, parent and handler state; Init does not
// run again. [Passivated] counts passivated connections. TLS connections,
// and connections something watches, hibernate without passivating.
//
// [ConnList] lists an owner's live connections, passivated or not.
//
// # Options
//
// [ConnOptions] are what a server, client or pool gives every one of its
// connections (socket options, logger, tracer, idle hibernation,
// parking); each of those packages embeds them in its own Options.
//
// # Messages
//
// [Call] (answered with a [Reply]), [Cast], [Event], [Send], [Stop],
// [CodeChange], [GetState], [SetTrace] and [Info] are what a connection
// understands besides socket events; anything else reaches the handler's
// HandleInfo. Package client wraps them in functions that take any
// connection PID, and [Request] sends one and waits for its reply.
//
// # Acceptors
//
// An [Acceptor] accepts from a listener one connection per message and
// supervises the connections it accepted, so no one supervisor is a
// bottleneck. An [AcceptGroup] puts all of a listener's acceptors to
// sleep or wakes them at once, without closing the listener; a sleeping
// acceptor costs no goroutine. Accept errors such as EMFILE are logged
// and retried with a back-off: they never end an acceptor.
//
// # Errors
//
// A callback that panics or returns an invalid Result ends its connection
// with a [*CallbackError] naming the callback; it matches
// [ErrCallbackPanic] or [ErrInvalidResult] with errors.Is. [ErrDeclined]
// reports a declined Init, [ErrClosed] a request to a connection that has
// ended, and [ErrShutdown] is the reason connections end with when their
// owner stops without one.
//
// # Tracing
//
// A [Tracer] set on a connection (at its start, or later with
// [SetTrace]) receives a [TraceEvent] for every packet in and out,
// message in, reply out and callback result, like Erlang's sys debug.
// [TraceLog] keeps the last N events in memory; [SlogTracer] logs them.
package actors
