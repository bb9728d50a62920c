// Package pool keeps a pool of client connections, etcp's connection
// pool: each connection is the same connection actor as a client's or a
// server's (one actor per socket, one callback per event, see package
// behaviours), and the pool restarts them under a policy when they end.
//
// # Starting a pool
//
// [Start] takes a handler factory, an init argument, a list of addresses
// (one connection each) and options; [WithName] names it. The pool is a
// supervisor actor, "etcp/<name>", spawned from the actor system's Root;
// its connections are its children ("etcp/<name>/conn-<id>-<n>"), so
// stopping the pool's actor stops them. Start returns at once: the
// connections are dialled in the background (the connect timeout comes
// from the socket options, 3 s by default), so a pool starts while its
// servers are down and comes up when they do. [Pool.WaitUp] waits for
// connections to be up.
//
//	p, err := pool.Start(sys, newHandler, arg, []string{"db1:6379", "db2:6379"},
//		actors.WithSocket(transport.WithConnectTimeout(time.Second)))
//	...
//	defer p.Stop(context.Background(), nil)
//
// # Connections
//
// [Pool.Add] and [Pool.AddN] add connections at any time, [Pool.Remove]
// stops one and forgets it, and [Pool.Connections] lists them with their
// [ID], address, PID and [State] (connecting, up, waiting to restart). A
// connection's ID stays the same across restarts; it is also the ID its
// handler sees in behaviours.Conn.
//
// # Exit policy
//
// When a connection ends, or its dial or start (handshake, Init) fails,
// the pool's [ExitPolicy] decides what happens to it (etcp's
// handle_exit): [RestartBackoff] (the default), [Restart] at once,
// [RestartAfter] a delay, [Delete] it, or [StopPool] with a reason. The
// policy sees an [Exit]: the connection's ID and address, the reason (it
// wraps [ErrStartFailed] when the connection never came up), how many
// exits in a row it had, and how long it was up. Set it with
// [WithExitPolicy]; [Always] makes a policy of one [Decision]:
//
//	pool.WithExitPolicy(pool.Always(pool.Delete()))
//	pool.WithExitPolicy(func(x pool.Exit) pool.Decision {
//		if x.Failures > 5 {
//			return pool.StopPool(x.Reason)
//		}
//		return pool.RestartBackoff()
//	})
//
// The policy is a function option rather than a method of the handler
// (etcp puts handle_exit in the handler's module): a Go handler is one
// value per connection, and the pool's decision belongs to no connection,
// so a function keeps the handler a pure connection behaviour and the
// policy free to close over whatever it needs. It runs in the pool's
// actor, one exit at a time.
//
// [RestartBackoff] waits an exponential delay with jitter: by default
// 100 ms, doubling, at most 10 s, and back to 100 ms for a connection that
// had stayed up 30 s; [WithBackoff] changes it. Restarts are timers that
// send the pool's actor a message (the actor never sleeps), and Stop
// stops them.
//
// # Sending
//
// [Pool.SendSync], [Pool.SendAsync], [Pool.Call] and [Pool.Cast] pick one
// live connection and use the client package's function on its PID;
// [Pool.Pick] returns a PID for the others. The pick reads an atomic
// snapshot of the live connections, replaced by the pool's actor when a
// connection comes up or ends: round-robin by default, random or least
// busy (fewest SendSync and Call in flight) with [WithStrategy]. With no
// live connection a send fails with [ErrNoConnection], at once or after
// waiting up to the time set by [WithWaitForConnection]; it never hangs,
// and never drops data without an error (SendAsync and Cast, like their
// client counterparts, are not acknowledged once handed to a connection).
//
// # Stopping
//
// [Pool.Stop] stops restarts and dials, then every connection: each one's
// Terminate runs with the reason given (actors.ErrShutdown for nil), and
// Stop returns once they have and their goroutines have exited.
// [Pool.Done] and [Pool.Err] tell when and why a pool stopped, also when
// its exit policy stopped it. A stopped pool's calls fail with an error
// wrapping [ErrClosed] (registry.ErrClosed, the one "closed" sentinel of
// the module; [ErrClosedPool] is its deprecated old name).
package pool
