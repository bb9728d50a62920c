// Package behaviours is the contract a user of etcp writes against: the
// callbacks of one TCP connection, what they return, and what they can
// see. It knows nothing of actors or sockets beyond [Conn], so a handler
// can be read and unit-tested on its own.
//
// # Handlers
//
// A [Handler] has one method per event of a connection, named after
// etcp's callbacks:
//
//	etcp               Go
//	connection_init    Init
//	handle_packet      HandlePacket
//	handle_call        HandleCall
//	handle_cast        HandleCast
//	handle_event       HandleEvent
//	handle_info        HandleInfo
//	handle_disconnect  HandleDisconnect
//	timeout            Timeout
//	srtimeout          SocketReadTimeout
//	terminate          Terminate
//	code_change        CodeChange
//	listen_init        ListenIniter.ListenInit (servers only)
//
// Every connection gets its own handler from a [Factory], and its actor
// calls the methods one at a time, so the handler's fields are its state
// and need no locks. Embed [Base] and write only the callbacks you use:
// its defaults accept the connection, ignore what they are given, and
// answer an unexpected call at once with an error wrapping
// [ErrUnhandledCall] rather than leaving the caller to time out.
//
// # Results
//
// Every callback but Terminate and CodeChange returns a [Result] saying
// what happens next. The zero value, [Continue], asks for nothing;
// constructors and methods combine the rest:
//
//	return behaviours.Send(header).Send(body).Timeout(30 * time.Second)
//
// A Result can send packets (in order, before anything else is read),
// reply to a call now ([Result.Reply], HandleCall only) or later
// ([Result.ReplyTo] with a kept [From]), set or clear the idle timeout
// ([Result.Timeout], [Never]), hibernate, close normally after sending,
// stop with a reason, switch between active and passive mode, ask for the
// next passive read ([Result.Recv]) or upgrade the socket to TLS
// ([Result.StartTLS]). The connection applies them in the fixed order
// documented on [Result]. A Result a callback may not return (a Reply
// outside HandleCall, a Decline outside Init) ends the connection with an
// error naming the callback, as a panic does; Terminate still runs.
//
// # Starting and ending
//
// Init runs first, once the socket is connected or accepted. It may
// return [Decline] (etcp's ignore): the socket closes quietly, Terminate
// does not run, and a client's start reports that it was declined. Close
// or Stop from Init make a client's start fail with that reason.
// Terminate runs exactly once for a connection whose Init accepted it,
// whatever ends it (the peer closing, Stop, a stop of its server, a
// panic); the error it returns replaces the reason the connection ends
// with.
//
// # Timeouts
//
// The idle timeout stays set until changed: with nothing arriving,
// Timeout runs every d, and any packet or message re-arms it. A timeout
// of 0 fires once, as soon as the mailbox is empty; [Never] clears it. No
// timeout fires while a connection is hibernated.
//
// # Passive mode
//
// In passive mode nothing is read until the handler asks with
// [Result.Recv] (a byte count, 0 for whatever is available, and a
// timeout); SocketReadTimeout runs if the timeout passes first.
// [Result.Active] switches to active mode, optionally for n frames only
// (Erlang's {active, N}), and [Result.Passive] back.
//
// # Inspection
//
// A handler implementing [StateReader] gives a snapshot of its state to
// debugging tools (Erlang's sys:get_state); CodeChange swaps in a new
// handler, of the same or another type, while the connection lives.
package behaviours
