package server

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// slots bounds a server's connections (ranch's max_connections).
//
// Two counts, changed together under mu:
//
//	counted   connections admitted that count against the limit
//	reserved  acceptors inside (or about to enter) Accept
//
// An acceptor reserves before it accepts, and only while counted +
// reserved < limit: at the limit it parks instead, so new peers wait in
// the listen backlog and are never reset. Once Accept returns, the
// reservation becomes a counted connection (admit) if counted < limit;
// otherwise (the limit was lowered meanwhile) the acceptor holds the
// socket unadmitted, as the backlog would, and parks. So counted never
// passes the limit through an admission: connections already live above a
// lowered limit stay, and no new one is admitted until counted < limit.
//
// A connection that ends (give), a reservation given back (unreserve) or
// a connection removed from the count (Server.RemoveConnection) ticks the
// first parked acceptor; a new limit ticks them all. A ticked acceptor
// tries again, and parks again if there is still no room: a spurious tick
// costs one turn.
type slots struct {
	limit atomic.Int64 // NoLimit: none; written under mu, read anywhere

	mu       sync.Mutex
	counted  int64
	reserved int64
	parked   []*actor.PID // acceptors waiting for room
	root     *actor.RootContext
}

// roomLocked reports whether the limit admits n more.
func (s *slots) roomLocked(n int64) bool {
	return n < s.limit.Load()
}

// reserve takes a reservation for an Accept, or parks pid until there is
// room; it reports whether it took one.
func (s *slots) reserve(pid *actor.PID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roomLocked(s.counted + s.reserved) {
		s.reserved++
		return true
	}
	s.parkLocked(pid)
	return false
}

// unreserve gives back a reservation whose Accept brought no socket.
func (s *slots) unreserve() {
	s.mu.Lock()
	s.reserved--
	next := s.popLocked()
	s.mu.Unlock()
	s.wake(next)
}

// admit counts one more connection if the limit allows it, consuming the
// caller's reservation if it has one. Otherwise, unless pid is nil, it
// parks pid (which holds the socket until there is room), and reports
// false.
func (s *slots) admit(pid *actor.PID, reserved bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reserved {
		s.reserved--
	}
	if s.roomLocked(s.counted) {
		s.counted++
		return true
	}
	if pid != nil {
		s.parkLocked(pid)
	}
	return false
}

// give uncounts a connection (it ended, or was removed from the count)
// and ticks the first parked acceptor.
func (s *slots) give() {
	s.mu.Lock()
	s.counted--
	next := s.popLocked()
	s.mu.Unlock()
	s.wake(next)
}

// count is the number of connections counted against the limit.
func (s *slots) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.counted)
}

// setLimit changes the limit (NoLimit: none) and ticks every parked
// acceptor.
func (s *slots) setLimit(n int64) {
	s.mu.Lock()
	s.limit.Store(n)
	parked := s.parked
	s.parked = nil
	s.mu.Unlock()
	for _, pid := range parked {
		s.wake(pid)
	}
}

// forget unparks an acceptor that stops, and passes a tick on to the
// first parked acceptor, in case one was on its way to the stopped one.
func (s *slots) forget(pid *actor.PID) {
	s.mu.Lock()
	for i, p := range s.parked {
		if p == pid {
			s.parked = append(s.parked[:i], s.parked[i+1:]...)
			break
		}
	}
	next := s.popLocked()
	s.mu.Unlock()
	s.wake(next)
}

// parkLocked parks pid, once: an acceptor ticked for another reason (Wake)
// that parks again is not queued twice.
func (s *slots) parkLocked(pid *actor.PID) {
	for _, p := range s.parked {
		if p == pid {
			return
		}
	}
	s.parked = append(s.parked, pid)
}

func (s *slots) popLocked() *actor.PID {
	if len(s.parked) == 0 {
		return nil
	}
	next := s.parked[0]
	s.parked = s.parked[1:]
	return next
}

func (s *slots) wake(pid *actor.PID) {
	if pid != nil {
		s.root.Send(pid, tick)
	}
}
