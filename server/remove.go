package server

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// ErrNotConnection: the PID given is not a live connection of the server.
// (Defined here rather than in errors.go, which another change owns.)
var ErrNotConnection = errors.New("etcp/server: not a live connection of this server")

// RemoveConnection takes the live connection pid out of the count of
// connections held against the server's limit (ranch's
// remove_connection), for a long-lived connection that should not hold a
// slot: a peer waiting at the limit is admitted at once. The connection
// itself carries on, is still listed, drained and stopped with the
// server, and counted in [Info].Active (not in Counted). Removing it again
// does nothing. A handler removes its own connection with its
// behaviours.Conn's Self() (the server reaches it through the init
// argument, for example). It fails with [ErrNotConnection] when pid is
// not a connection of s (one that has just ended is no error). Safe from any goroutine, a callback
// included.
func (s *Server) RemoveConnection(pid *actor.PID) error {
	done, ours := s.conns.Uncount(s.sys, pid)
	if !ours {
		return fmt.Errorf("%w: %v", ErrNotConnection, pid)
	}
	if done {
		s.slots.give()
	}
	return nil
}
