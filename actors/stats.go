package actors

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Per-connection statistics, counted once and cheaply: the actor adds to
// atomic counters in the connection's process as it reads, delivers,
// queues and writes (an uncontended atomic add each, beside the state
// word it changes anyway), so they survive passivation and anyone reads
// them without waking the connection.

// counters are a connection's traffic so far.
type counters struct {
	bytesIn, bytesOut, framesIn, framesOut atomic.Uint64
}

// ConnStats describes one connection for supervision: who it is, what
// state it is in, and its traffic.
type ConnStats struct {
	ID        uint64
	PID       *actor.PID
	Owner     string   // its server, pool or client
	Local     net.Addr // nil when unknown
	Peer      net.Addr
	Transport string
	// State is "up", "hibernated", "passivated" or "closing".
	State string
	// Passive is true in passive mode.
	Passive bool
	// Started is when Init accepted it; LastFrame when its last complete
	// frame arrived (Started if none did).
	Started, LastFrame time.Time
	// BytesIn and BytesOut are read from and written to the socket;
	// FramesIn and FramesOut are the packets delivered and sent.
	BytesIn, BytesOut, FramesIn, FramesOut uint64
	// Queued is the bytes sent to it and not yet taken by its socket
	// (its write queue: see [WriteQueue]).
	Queued int64
	// Mailbox is the number of messages waiting in its mailbox.
	Mailbox int
}

// Age is how long the connection has been up.
func (s *ConnStats) Age() time.Duration { return time.Since(s.Started) }

// ConnStatsOf describes the connection pid of sys, read without waking
// it; false if pid is not a live connection of this process.
func ConnStatsOf(sys *actor.ActorSystem, pid *actor.PID) (ConnStats, bool) {
	p := localConn(sys, pid)
	if p == nil || !p.st.load().up() {
		return ConnStats{}, false
	}
	return p.connStats(), true
}

// ConnStats describes every connection of the group that is up.
func (g *group) ConnStats() []ConnStats {
	var out []ConnStats
	g.conns.each(func(p *process) {
		if p.st.load().up() {
			out = append(out, p.connStats())
		}
	})
	return out
}

// EachConnStats calls fn for every connection of the group that is up,
// with what [ConnStats] describes, read without waking any, until fn
// returns false. The value is reused: fn must copy what it keeps. fn runs
// with part of the group's list locked, so it must be quick and must not
// call the group. Unless full, the fields read from the registry (Local,
// Peer, Transport) are left zero, while every other (the counters, state,
// start, mailbox) is read from the connection: a walk that ranks 100,000
// connections by any of those costs a fraction of group.ConnStats, and
// [ConnStatsOf] reads the rest for the few it keeps.
func (g *group) EachConnStats(full bool, fn func(*ConnStats) bool) {
	var s ConnStats
	more := true
	g.conns.each(func(p *process) {
		if more && p.st.load().up() {
			p.readStats(&s, full)
			more = fn(&s)
		}
	})
}

// connStats reads one connection's statistics.
func (p *process) connStats() ConnStats {
	var s ConnStats
	p.readStats(&s, true)
	return s
}

// readStats reads one connection's statistics into s: all of them when
// full, else those kept in its process.
func (p *process) readStats(s *ConnStats, full bool) {
	*s = ConnStats{ID: p.id, PID: p.self, Owner: p.g.owner, Passive: p.passive.Load(),
		BytesIn: p.counters.bytesIn.Load(), BytesOut: p.counters.bytesOut.Load(),
		FramesIn: p.counters.framesIn.Load(), FramesOut: p.counters.framesOut.Load(),
		LastFrame: epoch.Add(time.Duration(p.lastFrame.Load()))}
	if ns := p.started.Load(); ns != 0 {
		s.Started = time.Unix(0, ns)
	}
	if wq := p.wq.Load(); wq != nil {
		s.Queued = wq.bytes.Load()
	}
	switch st := p.st.load(); {
	case st == stAsleep:
		s.State = "passivated"
	case !st.up():
		s.State = "closing"
	case p.hibernated.Load():
		s.State = "hibernated"
	default:
		s.State = "up"
	}
	if mb := p.mb.Load(); mb != nil {
		s.Mailbox = mb.UserMessageCount()
	}
	if s.Started.IsZero() {
		s.Started = s.LastFrame
	}
	if !full {
		return
	}
	if p.self != nil {
		if e, err := p.g.reg.Lookup(p.g.selfName(p.self)); err == nil {
			s.Transport = e.Transport
			s.Local, s.Peer = netAddr(e.Local), netAddr(e.Peer)
		}
	}
}
