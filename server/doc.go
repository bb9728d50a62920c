// Package server runs etcp servers: a listening socket, a pool of acceptor
// actors, and one actor per accepted connection, all under the server's
// own supervisor actor.
//
// # Starting
//
// [Start] takes an actor system, a handler factory (package behaviours),
// the init argument every connection's Init receives, an address (port 0
// picks a free port; [Server.Addr] reads it back) and [Option] values. A
// handler that implements behaviours.ListenIniter runs once when the
// socket is open, before any acceptor starts, and may replace the init
// argument or refuse to start ([ErrListenInit]). A taken address fails
// with [ErrAddrInUse], which also matches syscall.EADDRINUSE; a bad option
// fails with [ErrInvalidOptions]; a taken name with [ErrNameTaken]. These,
// and [ErrClosed] (what a stopped server's calls fail with; its old name
// [ErrServerClosed] is deprecated), are the module's shared sentinels:
// registry.ErrAddrInUse, transport.ErrInvalidOptions,
// registry.ErrNameTaken and registry.ErrClosed.
//
// # Acceptors: sleep and wake
//
// A server starts [DefaultAcceptors] acceptors ([WithAcceptors] to
// change). [Server.Sleep] stops them accepting at once and [Server.Wake]
// starts them again; connections already open are untouched, and the
// listener stays open so new peers wait in its backlog. [Server.Mode]
// reads the acceptors' mode back (one mode if all agree), and
// [Server.Acceptors] lists each one's id, PID and mode. [WithStartAsleep]
// starts a server asleep.
//
// # Connections
//
// [Server.Connections] lists the live connections (id, PID, addresses).
// Their PIDs work with every function of package client (send, call,
// cast, stop, trace, state), and [Server.CodeChange] migrates the state
// of every connection at once.
//
// # Limits and alarms
//
// [WithMaxConnections] bounds the connections (ranch's max_connections;
// [NoLimit]: none): at the limit the acceptors stop accepting and new
// peers wait in the listen backlog. [Server.SetMaxConnections] changes it
// at run time: a higher limit admits the waiting peers at once, a lower
// one is never overshot. [Server.RemoveConnection] takes a long-lived
// connection out of the count (ranch's remove_connection). [WithAlarm]
// adds a threshold alarm on the count (ranch's connection alarms). In
// every option zero means the default.
//
// # Stopping
//
// [Server.Stop] closes the listener, stops the acceptors and stops every
// connection: each one's Terminate runs, with the reason given, or
// actors.ErrShutdown when it is nil. It returns once all of that is done
// and no goroutine of the server is left, or when its context ends.
// [Server.Shutdown] drains first; it returns by its context plus the
// stop grace (and 400 ms), whatever the handlers do.
package server
