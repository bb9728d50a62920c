package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// supervisor is the server's root actor ("etcp/<name>", ranch's
// ranch_listener_sup). Its children are the connection supervisors
// ("conns-N"), started first, and the acceptors ("acceptor-N"). It
// restarts an acceptor that stops or fails (with back-off), restarts a
// connection supervisor that stops (its connections end with it, as in
// ranch), and reopens a listening socket that dies, on the same address;
// if that fails for good the server stops and says why in Err.
type supervisor struct {
	s        *Server
	ready    chan struct{}
	backoff  map[int]time.Duration // per acceptor, doubled at each restart
	reopens  int                   // failed reopen attempts in a row
	retrying map[int]bool          // listeners whose reopen is scheduled to be retried
}

// Messages to the supervisor.
type (
	restartAcceptor struct{ id int }
	listenerDied    struct {
		idx   int
		ln    *listener
		retry bool // the supervisor's own retry, not an acceptor's report
	}
)

// Reopening a dead listener: tries with back-off, then the server stops.
const maxReopens = 8

// childSupervision stops a child that failed: the supervisor restarts it
// itself, with back-off, when it hears it terminated.
var childSupervision = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })

func (v *supervisor) Receive(ctx actor.Context) {
	s := v.s
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.pid = ctx.Self() // read by Start once ready is closed
		for i := range s.acceptors {
			v.spawnConnsSup(ctx, i)
		}
		for i := range s.acceptors {
			v.spawnAcceptor(ctx, i+1)
		}
		close(v.ready)
	case *actor.Terminated:
		v.onTerminated(ctx, m.Who)
	case *restartAcceptor:
		if s.listening.Mode() != ModeClosed {
			s.acceptorRestarts.Add(1)
			s.acceptors[m.id-1].restarts.Add(1)
			v.spawnAcceptor(ctx, m.id)
		}
	case *listenerDied:
		v.reopen(ctx, m)
	case *actor.Stopping:
		// Stopped by Stop, or by its parent (an embedding actor): either
		// way the server stops, before its children do.
		s.stop(nil, nil)
	case *actor.Stopped, *actor.Restarting:
	default:
		stray(s, ctx, "server supervisor")
	}
}

func (v *supervisor) spawnAcceptor(ctx actor.Context, id int) {
	a := &acceptor{id: id, s: v.s}
	pid, err := ctx.SpawnNamed(a.props(), fmt.Sprintf("acceptor-%d", id))
	if err != nil {
		v.s.log.Error("etcp: starting an acceptor failed", "acceptor", id, "err", err)
		return
	}
	v.s.acceptors[id-1].pid.Store(pid)
}

func (v *supervisor) spawnConnsSup(ctx actor.Context, i int) {
	pid, err := ctx.SpawnNamed((&connsSup{s: v.s}).props(), fmt.Sprintf("conns-%d", i+1))
	if err != nil {
		v.s.log.Error("etcp: starting a connection supervisor failed", "err", err)
		return
	}
	v.s.sups[i].Store(pid)
}

// onTerminated restarts a child that ended while the server runs.
func (v *supervisor) onTerminated(ctx actor.Context, who *actor.PID) {
	s := v.s
	if s.listening.Mode() == ModeClosed {
		return
	}
	for i := range s.acceptors {
		ref := &s.acceptors[i]
		if pid := ref.pid.Load(); pid != nil && pid.Id == who.Id {
			ref.pid.Store(nil)
			d := min(max(2*v.backoff[i], minBackoff), maxBackoff)
			v.backoff[i] = d
			s.log.Warn("etcp: acceptor stopped; restarting", "acceptor", i+1, "delay", d)
			self, root, id := ctx.Self(), ctx.ActorSystem().Root, i+1
			time.AfterFunc(d, func() { root.Send(self, &restartAcceptor{id: id}) })
			return
		}
	}
	for i := range s.sups {
		if pid := s.sups[i].Load(); pid != nil && pid.Id == who.Id {
			s.sups[i].Store(nil)
			s.log.Warn("etcp: connection supervisor stopped; restarting", "conns", i+1)
			s.supRestarts.Add(1)
			v.spawnConnsSup(ctx, i)
			return
		}
	}
}

// reopen listens again on the address of a listening socket that died
// behind the server's back.
func (v *supervisor) reopen(ctx actor.Context, m *listenerDied) {
	s := v.s
	if s.listening.Mode() == ModeClosed || s.listening.lns[m.idx].Load() != m.ln {
		return // stopping, or reopened already
	}
	if v.retrying[m.idx] && !m.retry {
		return // a retry is scheduled: the other acceptors' reports of the same death add nothing
	}
	lctx, cancel := context.WithTimeout(context.Background(), s.listening.so.ConnectTimeout)
	fresh, err := s.listening.so.Transport.Listen(lctx, s.listening.addr, s.listening.so)
	cancel()
	if err != nil {
		v.reopens++
		if v.reopens >= maxReopens {
			s.log.Error("etcp: the listening socket died and cannot be reopened; stopping", "addr", s.listening.addr, "err", err)
			go s.fail(listenerGone(s.listening.addr, err))
			return
		}
		d := min(minBackoff<<v.reopens, maxBackoff)
		s.log.Warn("etcp: reopening the listening socket failed; retrying", "addr", s.listening.addr, "err", err, "delay", d)
		if v.retrying == nil {
			v.retrying = map[int]bool{}
		}
		v.retrying[m.idx] = true
		self, root := ctx.Self(), ctx.ActorSystem().Root
		retry := &listenerDied{idx: m.idx, ln: m.ln, retry: true}
		time.AfterFunc(d, func() { root.Send(self, retry) })
		return
	}
	delete(v.retrying, m.idx)
	v.reopens = 0
	if s.listening.replace(m.idx, m.ln, fresh) {
		s.listenerReopens.Add(1)
		s.log.Warn("etcp: the listening socket died; reopened", "addr", s.listening.addr)
		s.tickAcceptors()
	}
}

// acceptErrors logs accept errors (EMFILE and friends) once per burst,
// with a count when it ends, and keeps the back-off the acceptors share.
type acceptErrors struct {
	n       atomic.Int64 // failures in the current burst
	mu      sync.Mutex
	backoff time.Duration
}

// failed records one error and returns how long to wait before retrying.
func (e *acceptErrors) failed(log *slog.Logger, err error) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n.Add(1) == 1 {
		log.Warn("etcp: accept failed; retrying with back-off", "err", err)
	}
	e.backoff = min(max(2*e.backoff, minBackoff), maxBackoff)
	return e.backoff
}

// recovered ends a burst, if one was under way (one atomic load when
// none was).
func (e *acceptErrors) recovered(log *slog.Logger) {
	if e.n.Load() == 0 {
		return
	}
	e.mu.Lock()
	n := e.n.Swap(0)
	e.backoff = 0
	e.mu.Unlock()
	if n > 0 {
		log.Warn("etcp: accepting again", "failures", n)
	}
}
