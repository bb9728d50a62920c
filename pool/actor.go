package pool

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/transport"
)

// Messages to the pool's actor. Those about one connection carry its
// generation: each dial starts a new one, so news about an earlier
// incarnation (or a removed connection) is recognised and dropped.
type (
	addConns struct {
		addr string
		n    int
	}
	removeConn struct{ id ID }
	dialed     struct {
		id   ID
		gen  uint64
		sock transport.Conn
		err  error
	}
	retryConn struct {
		id  ID
		gen uint64
	}
)

// entry is the pool actor's record of one connection.
type entry struct {
	id       ID
	addr     string
	state    State
	gen      uint64
	pid      *actor.PID
	member   *member // set while up
	upSince  time.Time
	failures int
	restarts int
	lastExit error
	timer    *time.Timer        // set while waiting to restart
	cancel   context.CancelFunc // set while dialling
}

// supervisor is the pool's actor: it dials, spawns the connection actors
// as its children, hears of them coming up and ending, and applies the
// exit policy. Its state is its own; it publishes what others read
// (Connections, the send snapshot) under the pool's mutex.
type supervisor struct {
	p       *Pool
	ready   chan struct{}
	initial []string
	conns   map[ID]*entry
	byPID   map[string]*entry // entries with a connection actor, by its PID's Id
	nextID  ID
}

func (s *supervisor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.p.pid = ctx.Self()
		for _, addr := range s.initial {
			s.add(addr)
		}
		s.initial = nil
		close(s.ready)
	case *addConns:
		ids := make([]ID, m.n)
		for i := range ids {
			ids[i] = s.add(m.addr)
		}
		ctx.Respond(&actors.Reply{Value: ids})
	case *removeConn:
		e := s.conns[m.id]
		if e == nil {
			ctx.Respond(&actors.Reply{Err: fmt.Errorf("%w: %d", ErrUnknownConnection, m.id)})
			return
		}
		pid := e.pid
		s.drop(e)
		ctx.Respond(&actors.Reply{Value: pid})
	case *dialed:
		s.onDialed(ctx, m)
	case *actors.ConnUp:
		if e := s.ofPID(m.Info.PID); e != nil {
			s.onUp(e, m)
		}
	case *actors.ConnDown:
		if e := s.ofPID(m.Info.PID); e != nil {
			s.exit(e, m.Reason)
		}
	case *retryConn:
		if e := s.current(m.id, m.gen); e != nil && e.state == StateWaiting {
			e.timer = nil
			s.dial(e)
		}
	case *actor.Stopping:
		// Stop from anyone (Pool.Stop, a StopPool decision, or an actor
		// stopping the pool's PID): stop dialling and the timers; the
		// children are stopped next, by protoactor.
		s.p.beginStop(nil)
		for _, e := range s.conns {
			s.quiet(e)
		}
	}
}

// current returns the connection id if gen is its current generation
// and the pool is not closing.
func (s *supervisor) current(id ID, gen uint64) *entry {
	e := s.conns[id]
	if e == nil || e.gen != gen || s.p.closed.Load() {
		return nil
	}
	return e
}

// ofPID returns the entry whose current connection actor is pid, if the
// pool is not closing: news of an earlier incarnation finds none.
func (s *supervisor) ofPID(pid *actor.PID) *entry {
	if pid == nil || s.p.closed.Load() {
		return nil
	}
	return s.byPID[pid.Id]
}

// setPID records e's connection actor (nil: none).
func (s *supervisor) setPID(e *entry, pid *actor.PID) {
	if e.pid != nil {
		delete(s.byPID, e.pid.Id)
	}
	e.pid = pid
	if pid != nil {
		s.byPID[pid.Id] = e
	}
}

// add registers a connection to addr and dials it.
func (s *supervisor) add(addr string) ID {
	s.nextID++
	e := &entry{id: s.nextID, addr: addr}
	s.conns[e.id] = e
	s.dial(e)
	return e.id
}

// dial starts a new generation of e: it dials in a goroutine, which
// hands the socket back as a *dialed message, so the mailbox never
// blocks on a connect.
func (s *supervisor) dial(e *entry) {
	p := s.p
	if e.gen > 0 {
		e.restarts++
	}
	e.gen++
	e.state = StateConnecting
	s.setPID(e, nil)
	s.publish(e)
	if p.closed.Load() {
		return
	}
	dctx, cancel := context.WithTimeout(p.dialCtx, p.conns.Socket().ConnectTimeout)
	e.cancel = cancel
	id, gen, addr := e.id, e.gen, e.addr
	p.dials.Add(1)
	go func() {
		defer p.dials.Done()
		so := p.conns.Socket()
		sock, err := so.Transport.Dial(dctx, addr, so)
		cancel()
		p.deliver(&dialed{id: id, gen: gen, sock: sock, err: err})
	}()
}

// deliver hands a dial's outcome to the actor. A socket is recorded as
// pending until the actor takes it, so a stop in between closes it.
func (p *Pool) deliver(d *dialed) {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		if d.sock != nil {
			d.sock.Close()
		}
		return
	}
	if d.sock != nil {
		p.pending[d] = struct{}{}
	}
	p.mu.Unlock()
	p.sys.Root.Send(p.pid, d)
}

func (s *supervisor) onDialed(ctx actor.Context, d *dialed) {
	p := s.p
	p.mu.Lock()
	delete(p.pending, d)
	p.mu.Unlock()
	e := s.current(d.id, d.gen)
	if e == nil || e.state != StateConnecting {
		if d.sock != nil {
			d.sock.Close()
		}
		return
	}
	e.cancel = nil
	if d.err != nil {
		s.exit(e, startFailed("dial", e.addr, d.err))
		return
	}
	pid, err := p.conns.Spawn(ctx, fmt.Sprintf("conn-%d-%d", e.id, e.gen), uint64(e.id), d.sock, false, ctx.Self())
	if err != nil {
		s.exit(e, fmt.Errorf("%w: spawn: %w", ErrStartFailed, err))
		return
	}
	s.setPID(e, pid)
	s.publish(e)
}

func (s *supervisor) onUp(e *entry, m *actors.ConnUp) {
	if m.Err != nil {
		s.exit(e, startFailed("", e.addr, m.Err))
		return
	}
	e.state, e.upSince = StateUp, time.Now()
	e.member = &member{id: e.id, pid: e.pid}
	s.publish(e)
	s.publishLive()
}

// exit applies the exit policy to a connection that ended or failed to
// start.
func (s *supervisor) exit(e *entry, reason error) {
	p := s.p
	var uptime time.Duration
	if e.state == StateUp {
		uptime = time.Since(e.upSince)
		if uptime >= p.o.Backoff.ResetAfter {
			e.failures = 0
		}
	}
	e.failures++
	e.lastExit = reason
	wasLive := e.member != nil
	s.setPID(e, nil)
	e.member = nil
	if wasLive {
		s.publishLive()
	}
	d := s.decide(Exit{ID: e.id, Addr: e.addr, Reason: reason, Failures: e.failures, Uptime: uptime})
	p.log.Debug("etcp: pool connection exit", "id", e.id, "addr", e.addr, "reason", reason,
		"failures", e.failures, "decision", d.Action)
	switch d.Action {
	case ActionRestart:
		s.dial(e)
	case ActionRestartAfter:
		s.wait(e, d.Delay)
	case ActionDelete:
		s.drop(e)
	case ActionStopPool:
		p.log.Info("etcp: pool stopped by its exit policy", "id", e.id, "reason", d.Reason)
		p.beginStop(d.Reason)
	default: // ActionBackoff, or an unknown action
		s.wait(e, p.o.Backoff.Delay(e.failures))
	}
}

// decide runs the exit policy; a panic in it counts as RestartBackoff.
func (s *supervisor) decide(x Exit) (d Decision) {
	defer func() {
		if r := recover(); r != nil {
			s.p.log.Error("etcp: pool exit policy panicked", "id", x.ID, "panic", r)
			d = RestartBackoff()
		}
	}()
	return s.p.o.ExitPolicy(x)
}

// wait arms e's restart timer; it tells the actor when the delay is over.
func (s *supervisor) wait(e *entry, d time.Duration) {
	p := s.p
	e.state = StateWaiting
	s.publish(e)
	msg := &retryConn{id: e.id, gen: e.gen}
	e.timer = time.AfterFunc(d, func() { p.sys.Root.Send(p.pid, msg) })
}

// drop forgets e: no restart, no dial, not listed.
func (s *supervisor) drop(e *entry) {
	s.quiet(e)
	s.setPID(e, nil)
	delete(s.conns, e.id)
	p := s.p
	p.mu.Lock()
	delete(p.infos, e.id)
	p.mu.Unlock()
	if e.member != nil {
		e.member = nil
		s.publishLive()
	}
}

// quiet stops e's restart timer and cancels its dial.
func (s *supervisor) quiet(e *entry) {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	if e.cancel != nil {
		e.cancel()
		e.cancel = nil
	}
}

// publish updates e's line in Connections.
func (s *supervisor) publish(e *entry) {
	p := s.p
	p.mu.Lock()
	if !p.closed.Load() {
		p.infos[e.id] = ConnInfo{ID: e.id, Addr: e.addr, PID: e.pid, State: e.state,
			Restarts: e.restarts, LastExit: e.lastExit}
	}
	p.mu.Unlock()
}

// publishLive replaces the send snapshot with the connections that are
// up, in ID order, and wakes senders waiting for one.
func (s *supervisor) publishLive() {
	live := make([]*member, 0, len(s.conns))
	for _, e := range s.conns {
		if e.member != nil {
			live = append(live, e.member)
		}
	}
	slices.SortFunc(live, func(a, b *member) int { return cmp.Compare(a.id, b.id) })
	p := s.p
	p.mu.Lock()
	if !p.closed.Load() {
		p.snap.Store(&live)
		close(p.changed)
		p.changed = make(chan struct{})
	}
	p.mu.Unlock()
}
