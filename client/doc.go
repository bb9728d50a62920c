// Package client dials etcp client connections and talks to any etcp
// connection by its PID, whether it was dialled here or accepted by a
// server or a pool.
//
// # Dialling
//
// [Dial] connects to an address, spawns the connection's actor (from the
// actor system's Root, or from an actor's context to make it that
// actor's child) and returns its PID once Init has run. It fails if the
// connect (3 s by default), the handshake or Init fails: with an error
// wrapping actors.ErrDeclined when Init declined, or the reason Init
// closed or stopped with.
//
// # Talking to a connection
//
// [SendSync] writes a packet and returns once it is written; [SendAsync]
// does not wait, and a write error ends the connection. [Call] runs the
// handler's HandleCall and returns its reply; [Cast], [Event] and [Info]
// reach HandleCast, HandleEvent and HandleInfo. [Stop] ends the connection
// with a reason and returns once Terminate has run (or, when its context
// ends first, shuts the connection's socket down). Every function that
// waits takes a context; a PID whose connection has ended gives an error
// wrapping actors.ErrClosed.
//
// # Request/response protocols
//
// A handler that turns calls into requests on the wire keeps its callers
// in a [Pending]: HandleCall adds the caller, HandlePacket answers the
// oldest with the response, Terminate fails the rest with the reason the
// connection ended. [CallAs] and [As] give the reply as the type the
// caller expects, or an error wrapping [ErrReplyType].
//
// # Debugging
//
// [State] returns the handler's state (Erlang's sys:get_state), [Trace]
// turns tracing on or off while the connection lives, [Describe] returns
// its addresses, and [CodeChange] migrates its handler.
package client
