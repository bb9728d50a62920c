// Package actors is what every etcp connection is: the protoactor actor
// that owns one socket, with the messages it understands, the options
// every server, client and pool gives its connections, its errors and
// its tracing. Packages server, client and pool build on it.
//
// # The connection actor
//
// Every TCP connection, accepted or dialled, is one actor that owns the
// socket. Its reader turns bytes into frames in the actor's mailbox;
// calls, casts, events and any other message arrive in the same mailbox.
// The actor runs the handler's callbacks (package behaviours) one at a
// time and applies the Result each returns, in one place: packets are
// written, replies sent, the timeout and mode changed, then the
// connection closes, stops or hibernates as asked. At most one read is in
// flight, so a slow handler slows its own peer through TCP back-pressure;
// and a connection whose peer reads slower than it is written to stops
// reading until its write queue drains, so a slow reader slows its own
// sends too.
//
// # Messages
//
// [Call] (answered with a [Reply]), [Cast], [Event], [Send], [Stop],
// [CodeChange], [GetState], [SetTrace], [Info] and [Hibernate] are what a connection
// understands besides socket events; anything else reaches the handler's
// HandleInfo. Package client wraps them in functions that take any
// connection PID, and [Request] sends one and waits for its reply within
// a context. To a
// connection on another node they travel as protobuf (package
// etcp.conn.v1): a payload is a protobuf message, a string or a []byte,
// anything else is [ErrNotWire]. The actor that spawned a connection
// may hear [ConnUp] and [ConnDown].
//
// # Owners
//
// A group is the connections of one owner (a server, a client
// connection, a pool): what they share, their supervision set (for
// forcing a stop and the idle timeout), their registration in a registry,
// and their counts. Packages server, client and pool each make one
// through package actors/host, which is theirs, not an application's:
// applications meet a group as a server, client or pool.
//
// # Options
//
// [ConnOptions] are what a server, client or pool gives every one of its
// connections (socket options, logger, tracer, idle hibernation,
// parking, the event loop, half-close). [WithSocket], [WithLogger], [WithTracer],
// [WithIdleHibernate], [WithParkAfter], [WithEventLoop], [WithHalfClose] and the other
// With functions of this package set them and are accepted by
// server.Start, client.Dial and pool.Start alike; each of those packages
// adds options of its own.
//
// # Half-close
//
// Each direction of a connection can end on its own, as TCP allows. By
// default the peer's FIN (it shut down its write side, or closed) runs
// HandleDisconnect and then ends the connection. With [WithHalfClose]
// (Erlang's {exit_on_close, false}) HandleDisconnect runs and the
// connection stays up for writing: its handler's packets, and the sends,
// calls, casts and other messages of others, go on working, so a reply
// computed after a request and its FIN (`printf 'req' | nc -N`) still
// reaches the peer, on the goroutine reader and the event loop alike, and
// across hibernation. Nothing is read any more (a Recv or a StartTLS is
// then an invalid Result). It ends when a Result closes or stops it, when
// a write fails, or when the handler shuts its own side down.
//
// A handler shuts down its own write side with behaviours.CloseWrite (TCP
// and Unix send a FIN, TLS a close_notify and then a FIN), once every byte
// asked for before it is written; the connection reads on. Anything sent
// after it ends the connection with [ErrWriteClosed]. When both sides are
// shut, the connection ends normally (Terminate sees nil).
//
// # Idle connections and hibernation
//
// A reader with nothing to read for ParkAfter (default
// [DefaultParkAfter]) parks on a shared epoll poller and holds no
// goroutine; bytes or a close start it again. This holds in active mode
// and for a passive connection waiting on a Recv. A passive connection
// with no Recv outstanding reads nothing and watches nothing: as with
// Erlang's passive sockets, a peer's close is seen at the next Recv.
//
// # The event loop
//
// With [WithEventLoop] an owner's TCP and Unix connections are served by
// event loops instead of a goroutine each (eventloop.go). A connection
// gives its socket up to a bare non-blocking descriptor, out of Go's
// netpoller, and its read side lives on one of the owner's pollers: when
// bytes arrive, the poller's goroutine reads them and runs the actor right
// there (the same postInline a reader goroutine uses), for every ready
// connection of the wake-up in turn, then arms its registration again
// (a persistent, edge-triggered watch: no system call after a read that
// drained the socket). The
// states are those of a reader that parks after every read (parked,
// reading, posted, parking, parked). Nothing a turn does may block the
// loop: a read the actor cannot take at once is awaited on a goroutine of
// its own, a write never waits (what the socket does not take goes to the
// connection's flusher), and a StartTLS handshake hands the poller to a
// new goroutine first.
//
// Hibernation (asked for by a Result, or after IdleHibernate) parks at
// once, gives back buffers and timers, and then passivates the actor: its
// protoactor context and its net.Conn go, and a small record keeps the
// handler and the socket's descriptor under the same PID. Any message to
// the PID, and (when the handler wants bytes) bytes or a close, spawn the
// actor again with the same PID, parent and handler state; Init does not
// run again. TLS connections keep their actor and reader goroutine;
// connections something watches keep their actor. An owner's Stats and
// [StatsOf] count connections by what they hold.
//
// # Errors
//
// A callback that panics or returns an invalid Result ends its connection
// with a [*CallbackError] naming the callback; it matches
// [ErrCallbackPanic] or [ErrInvalidResult] with errors.Is. Terminate runs
// exactly once for every connection whose Init was called, a panicking
// Init included (the start then fails with that error); only a declined
// Init ([ErrDeclined], etcp's ignore) and a failed handshake end a
// connection without it. [ErrClosed] reports a request to a connection
// that has ended (it is registry.ErrClosed, the module's one "closed"
// error, which a stopped server or pool reports too; the error wrapping
// it names what ended), and [ErrShutdown] is the reason connections end with
// when their owner stops without one.
//
// # Tracing
//
// A [Tracer] set on a connection (at its start, or later with
// [SetTrace]) receives a [TraceEvent] for every packet in and out,
// message in, reply out and callback result, like Erlang's sys debug.
// [TraceLog] keeps the last N events in memory; [SlogTracer] logs them.
//
// # Metrics
//
// Off by default. An actor system made with an OpenTelemetry
// MeterProvider (protoactor's actor.WithMetricProviders) measures the
// connections of its servers, clients and pools on that provider's meter
// [MeterName], by owner ([AttrOwner]): the counters
// etcp.connections.accepted and etcp.connections.terminated, the up-down
// counters etcp.connections.active and etcp.connections.hibernated, the
// byte counters etcp.bytes.received and etcp.bytes.sent, all observed at
// collection from what the connections count already, and the histogram
// etcp.callback.duration (seconds, by callback: [AttrCallback]). The
// library serves no exporter: give the provider a reader of your own (a
// Prometheus exporter, OTLP, or an in-memory reader in tests).
// Protoactor's own instruments, switched on by the same option, go to
// OpenTelemetry's global provider.
//
// # The connection's states
//
// Four kinds of goroutine touch a connection: its actor (a mailbox turn,
// run by protoactor's dispatcher, inline by the reader, or by the
// poller's wake-up), its reader goroutine, the shared poller (or its
// owner's event loop), and its process (a passivated connection being woken, under the
// process's lock). What they share is one state word per connection, kept
// in its process so that it outlives passivation. Every change of it is a
// compare-and-swap made by one of the operations in state.go; the table
// there, the same as below, lists every legal change, and anything else
// is refused. Timers post messages and touch no state.
//
// Who owns what in each state:
//
//	starting       the actor: the socket, for the handshake and Init (not listed, not counted)
//	idle           the actor: the socket, its read deadline, c.raw, c.ev (no reader goroutine)
//	reading        the reader goroutine: the socket's reads and read deadline, c.ev,
//	               the idle-deadline bookkeeping (the actor only reads c.raw and c.sock)
//	kick-park      as reading; the actor set the read deadline in the past once
//	kick-stop      as kick-park
//	posted         the actor: c.ev, the socket and its deadline; the reader goroutine
//	               exists but touches nothing until the actor releases the read, and
//	               then goes on only if the read was released to reading or a kick:
//	               released to idle, it ends even if the state is reading again by
//	               then (another reader, started by a later message; c.readerGen)
//	waiting        as posted; the reader sleeps on c.consumed
//	parking        the reader goroutine: the socket and c.pollKey, while it registers
//	parking-nudge  as parking
//	parking-stop   as parking
//	parking-close  as parking; the actor has ended the connection
//	parked         the poller: the registration (c.pollKey), until Ready or until the
//	               actor takes it back with Remove (no goroutine)
//	asleep         the process: the sleep record and its registration (no actor, no goroutine)
//	half-closed    the actor: the socket, for writing only (the peer's FIN was read; nothing is read again)
//	closed         no one: the socket is closed or closing
//
// The transitions (from, to, who makes it, why):
//
//	starting      -> idle          actor   Init accepted the connection
//	starting      -> closed        actor   the handshake failed or Init declined
//	idle          -> reading       actor   the handler wants bytes: a reader goroutine starts
//	idle          -> asleep        actor   passivation of a connection that reads nothing
//	idle          -> closed        actor   the connection ends
//	reading       -> posted        reader  a read completed (bytes, end of stream or error)
//	reading       -> parking       reader  nothing to read for ParkAfter
//	reading       -> kick-park     actor   hibernation: the reader must park
//	reading       -> kick-stop     actor   StartTLS: the reader must stop
//	reading       -> closed        actor   the connection ends; the reader exits when it wakes
//	kick-park     -> posted        reader  bytes came before the kick: the read wakes the actor
//	kick-park     -> parking-nudge reader  the kick: park, then nudge
//	kick-park     -> kick-stop     actor   StartTLS after hibernation: stop instead of parking
//	kick-park     -> closed        actor   the connection ends
//	kick-stop     -> posted        reader  bytes came before the kick: the actor holds the read
//	kick-stop     -> idle          reader  the kick: the reader stops and nudges
//	kick-stop     -> closed        actor   the connection ends
//	posted        -> waiting       reader  the actor did not take the read inline
//	posted        -> reading       actor   the read is consumed; read on
//	posted        -> kick-park     actor   the read is consumed; hibernate
//	posted        -> idle          actor   the read is consumed; no more bytes wanted (passive, StartTLS)
//	posted        -> half-closed   actor   the read was the peer's FIN and the connection writes on (WithHalfClose)
//	posted        -> closed        actor   the connection ends
//	waiting       -> reading       actor   the read is consumed; read on (the reader is woken)
//	waiting       -> kick-park     actor   the read is consumed; hibernate (the reader is woken)
//	waiting       -> idle          actor   the read is consumed; no more bytes wanted (the reader is woken)
//	waiting       -> half-closed   actor   the read was the peer's FIN; the connection writes on (the reader is woken)
//	waiting       -> closed        actor   the connection ends (the reader is woken)
//	parking       -> parked        reader  registered with the poller: the goroutine ends
//	parking       -> reading       poller  bytes came while parking: the parking reader reads on
//	parking       -> reading       reader  the poller refused the socket: read on in this goroutine
//	parking       -> parking-nudge actor   hibernation while the reader parks
//	parking       -> parking-stop  actor   StartTLS while the reader parks
//	parking       -> parking-close actor   the connection ends while the reader parks
//	parking-nudge -> parked        reader  registered: the goroutine nudges the actor and ends
//	parking-nudge -> reading       poller  bytes came while parking: the read wakes the actor
//	parking-nudge -> reading       reader  the poller refused the socket: read on, no passivation
//	parking-nudge -> kick-park     reader  the event loop's watch saw an edge while disarmed: read on, then park and nudge
//	parking-nudge -> parking-stop  actor   StartTLS while the reader parks
//	parking-nudge -> parking-close actor   the connection ends while the reader parks
//	parking-stop  -> idle          reader  the registration is taken back: the reader nudges and ends
//	parking-stop  -> parking-close actor   the connection ends while the reader parks
//	parking-close -> closed        reader  the registration is taken back: the reader ends
//	parked        -> reading       poller  bytes or a close: a reader goroutine starts
//	parked        -> reading       actor   a passivation gave up after taking the registration back
//	parked        -> idle          actor   StartTLS: the actor took the registration back
//	parked        -> asleep        actor   passivation: the actor took the registration back
//	parked        -> closed        actor   the connection ends: the actor took the registration back
//	asleep        -> idle          process a message, bytes or a close: the actor is spawned again
//	asleep        -> half-closed   process a message to a half-closed connection: the actor is spawned again
//	asleep        -> closed        process the actor could not be spawned again
//	half-closed   -> asleep        actor   passivation of a half-closed connection
//	half-closed   -> closed        actor   the connection ends
//
// The poller and the actor never race for a parked socket: the poller
// takes a fired registration under its lock before it calls Ready, and
// Remove, under the same lock, tells the actor whether it took the
// registration back first.
// Only a reader in stParking registers, and the poller starts a reader
// only from stParked, so two reader goroutines never run at once. A
// reader that parked for hibernation, or stopped for StartTLS, nudges the
// actor; a nudge that finds the mailbox retiring for a passivation waits
// for that passivation to succeed (nothing left to nudge) or give up
// (posted again), so no passivation is lost. The mailbox's own status
// (open, retired, closed) is documented on mbStatus.
//
// # The write side's states
//
// The actor never waits for the peer. It writes what the socket takes at
// once; the rest, the backlog, is written while the actor goes on with
// its mailbox by the connection's flusher: on the event loop, the loop
// itself when the socket can take bytes again (EPOLLOUT, loopwriter.go);
// otherwise a goroutine that exists only while a backlog does
// (flusher.go). The write side has a state word of its own
// (writestate.go), changed by compare-and-swap through its listed
// transitions only, as the read side's:
//
//	direct    the actor: the socket's writes (it never waits in one)
//	flushing  the flusher: the socket's writes and the backlog's front; the actor
//	          appends to the backlog under the outbox's lock
//	failed    the actor: the flusher's write failed; the connection ends with its error
//	closing   the flusher: the connection ended; it delivers the backlog, then closes
//	closed    no one: the socket is closed or closing
//	shut      the actor: its write side is shut down (CloseWrite); nothing is written again
//
// The transitions (from, to, who makes it, why):
//
//	direct    => flushing  actor   the socket did not take a write whole: the rest is the backlog, a flusher starts
//	direct    => closing   actor   an error end whose replies must reach the peer before the reset
//	direct    => closed    actor   the connection ends with nothing to deliver: the actor closes the socket
//	direct    => shut      actor   CloseWrite with nothing left to write: the actor shuts the socket's write side down
//	flushing  => direct    flusher the backlog is written: the flusher ends
//	flushing  => failed    flusher a write failed or stalled for the write timeout: the actor is told
//	flushing  => closing   actor   the connection ends: the flusher delivers the backlog, then closes
//	flushing  => closed    actor   the connection ends at once (a timeout, an overflow, a forced stop): the backlog is dropped
//	failed    => closed    actor   the connection ends on the failure: the actor closes the socket
//	closing   => closed    flusher delivered, or given up: the flusher closes the socket
//	shut      => closed    actor   the connection ends: the actor closes the socket
//
// What is queued (handler packets the socket did not take, and every
// Send, local or remote, from the moment it is posted) is counted in one
// place, the write queue (writequeue.go), and leaves the count when the
// socket takes it. Over its high mark the handler hears
// behaviours.Writability, and the connection stops reading its socket
// until the queue falls to the low mark (back-pressure).
package actors
