package actors

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/internal/poll"
	"github.com/etcp-go/etcp/actors/internal/wirepb"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// Passivation: a hibernating connection whose mailbox is empty and whose
// reader is parked (or that reads nothing) stops being an actor. Its
// protoactor context, its conn, its net.Conn and its runtime poller entry
// are let go; what is left is its process (below) holding a small record:
// the handler, the socket as a bare descriptor registered with the shared
// poller, and the few settings a connection carries. The first message to
// its PID, or the poller seeing bytes or a close, spawns the actor again,
// under the same PID and parent, with the same handler; Init does not run
// again.
//
// The registry holds a connection's process, not protoactor's
// ActorProcess, for the connection's whole life, so PIDs that cached it
// stay valid across passivations. A re-spawn goes through protoactor's
// own spawner under a temporary name; the temporary entry is then dropped
// and the new context's PID renamed to the connection's, before the
// actor runs: no message can find the PID unregistered.
//
// A connection stays an actor while it hibernates when it cannot be
// rebuilt from a descriptor (TLS), when something watches it or it has
// children or a receive timeout (protoactor keeps those in the context),
// or while a write, a timed Recv or a StartTLS is under way, or once its
// write side is shut (CloseWrite).

// process is the connection's protoactor Process, and the holder of its
// state word for its whole life.
type process struct {
	st         stateWord
	hibernated atomic.Bool                // reported by ConnStats; the actor's own flag decides
	passive    atomic.Bool                // reported by ConnStats
	count      atomic.Int32               // a count state (uncount.go)
	lastFrame  atomic.Int64               // when the last frame arrived, as time.Since(epoch)
	counters   counters                   // bytes and frames in and out (stats.go)
	wq         atomic.Pointer[writeQueue] // made by the first send
	g          *group
	mu         sync.Mutex              // taken to passivate and to wake
	mb         atomic.Pointer[mailbox] // the live actor's; nil while asleep or ended
	parent     *actor.PID
	self       *actor.PID
	sleep      *sleepRecord // set while asleep
	id         uint64
	// started is when Init accepted the connection (Unix nanoseconds, 0
	// until then): a column of every walk (EachConnStats), so that ranking
	// by age reads no registry entry.
	started atomic.Int64

	prev, next *process // the group's list links, guarded by the list
}

var _ actor.Process = (*process)(nil)

// sleepRecord is what a passivated connection keeps.
type sleepRecord struct {
	handler  behaviours.Handler
	names    []string // names the handler registered
	notify   *actor.PID
	tracer   Tracer
	pending  []byte
	idle     time.Duration
	activeN  int32
	recvN    int32
	sock     transport.Detached
	key      poll.Key // the registration while watched
	accepted bool
	passive  bool
	recvWant bool
	watched  bool // the socket is registered with the poller

	noBackPressure bool
	halfClosed     bool // the peer's FIN was read (WithHalfClose): it wakes half-closed
}

var stopSystemMessage = &actor.Stop{}

func (p *process) SendUserMessage(_ *actor.PID, msg any) {
	if !p.admit(msg) {
		return
	}
	limit := p.g.mailboxLimit
	if stopping(msg) {
		limit = 0 // a stop is never refused
	}
	if p.postLimit(msg, false, limit) {
		p.refuse(msg, fmt.Errorf("%w: more than %d messages in its mailbox", ErrOverflow, limit))
	}
}
func (p *process) SendSystemMessage(_ *actor.PID, msg any) { p.post(msg, true) }
func (p *process) Stop(_ *actor.PID)                       { p.post(stopSystemMessage, true) }

// stopping reports whether msg asks the connection to stop.
func stopping(msg any) bool {
	switch actor.UnwrapEnvelopeMessage(msg).(type) {
	case *Stop, *wirepb.Stop:
		return true
	}
	return false
}

// admit counts a Send, local or from another node, in the connection's
// write queue. One past the hard cap is refused (its sender hears
// ErrOverflow) and ends the connection; with FailFast, a SendSync over
// the high mark is refused with ErrWriteBlocked and the connection goes
// on.
func (p *process) admit(msg any) bool {
	var n int
	switch m := actor.UnwrapEnvelopeMessage(msg).(type) {
	case *Send:
		n = len(m.Data)
	case *wirepb.Send:
		n = len(m.Data)
	default:
		return true
	}
	q := &p.g.writeQueue
	env, _ := msg.(*actor.MessageEnvelope)
	if q.FailFast && env != nil && env.Sender != nil {
		if wq := p.wq.Load(); wq != nil && wq.over.Load() {
			replyAny(p.g.sys, env.Sender, ErrWriteBlocked)
			return false
		}
	}
	if p.queueSend(n, q) {
		return true
	}
	p.refuse(msg, fmt.Errorf("%w: more than %d bytes queued to write", ErrOverflow, q.Max))
	return false
}

// refuse answers a message past a cap with err, and ends the connection
// with it.
func (p *process) refuse(msg any, err error) {
	if env, ok := msg.(*actor.MessageEnvelope); ok && env.Sender != nil {
		replyAny(p.g.sys, env.Sender, err)
	}
	p.post(&overflow{err: err}, true)
}

// group is the connection's group.
func (p *process) group() *group { return p.g }

// post delivers to the live actor, waking it first if it sleeps.
func (p *process) post(msg any, system bool) { p.postLimit(msg, system, 0) }

// postLimit is post, refusing a user message when limit (if not 0)
// messages wait in the live actor's mailbox already: it reports true then,
// posting nothing.
func (p *process) postLimit(msg any, system bool, limit int) (full bool) {
	for {
		if mb := p.mb.Load(); mb != nil {
			open, full := mb.postLimit(msg, system, limit)
			if full {
				return true
			}
			if open {
				return false
			}
		}
		p.mu.Lock()
		switch {
		case p.mb.Load() != nil: // woken meanwhile, or a passivation gave up: post again
			p.mu.Unlock()
			continue
		case p.sleep == nil: // ended
			p.mu.Unlock()
			if !system {
				rejectClosed(p.g.sys.Root, msg)
			}
			return false
		}
		mb, lost := p.wake(msg, system)
		if mb != nil {
			mb.release()
		}
		p.mu.Unlock()
		if lost != nil {
			lost()
		}
		return false
	}
}

// readyAsleep wakes the passivated connection the poller saw bytes or a
// close on; the new actor's first turn runs right here.
func (p *process) readyAsleep() {
	p.mu.Lock()
	var mb *mailbox
	var lost func()
	if p.sleep != nil {
		mb, lost = p.wake(nil, false)
	}
	p.mu.Unlock()
	if lost != nil {
		lost()
	}
	if mb != nil {
		mb.run()
	}
}

// end runs when the actor has stopped for good.
func (p *process) end() {
	p.mu.Lock()
	p.mb.Store(nil)
	p.mu.Unlock()
}

// spawn is the connection's SpawnFunc: protoactor's own spawner, holding
// the mailbox until the registry entry is the connection's process.
func (c *conn) spawn(sys *actor.ActorSystem, id string, props *actor.Props, parent actor.SpawnerContext) (*actor.PID, error) {
	p := c.proc
	p.parent = parent.Self()
	c.mb.hold()
	pid, err := actor.DefaultSpawner(sys, id, props, parent)
	if err != nil {
		return pid, err
	}
	p.self = pid
	p.mb.Store(&c.mb)
	sys.ProcessRegistry.LocalPIDs.GetBucket(id).Set(id, p)
	c.mb.release()
	return pid, nil
}

// passivate turns a hibernating, idle connection into a sleep record
// (mailbox owner only, its queues drained). It reports whether it did;
// if not, the connection stays an actor, and what kept it awake (a read,
// a message, a reader still parking) brings it back here or wakes it.
func (c *conn) passivate() bool {
	if !canPark || c.life != lifeUp || c.watched || c.upgrade != nil || c.recvTimed ||
		c.out != nil || c.raw == nil || !c.writeIdle() {
		return false
	}
	det, ok := c.sock.(transport.Detacher)
	if !ok || len(c.ctx.Children()) > 0 || c.ctx.ReceiveTimeout() > 0 {
		return false
	}
	p := c.proc
	p.mu.Lock()
	defer p.mu.Unlock()
	if !c.mb.retire() {
		return false // a message came in: handle it first
	}
	watch, ok := c.takeForSleep()
	if !ok {
		c.mb.unretire() // the reader nudges once it has parked, or a read comes
		return false
	}
	d, err := det.Detach()
	if err != nil {
		if c.logs(slog.LevelDebug) {
			c.Logger().Debug("etcp: passivation failed; hibernating in place", "err", err)
		}
		c.restoreReader(watch)
		c.mb.unretire()
		return false
	}
	r := &sleepRecord{handler: c.handler, names: c.names, notify: c.notify, tracer: c.tracer, pending: c.pending,
		idle: c.idle, activeN: c.activeN, recvN: c.recvN, sock: d,
		accepted: c.accepted, passive: c.passive, recvWant: c.recvWant, watched: watch,
		halfClosed: c.proc.st.load() == stHalfClosed, noBackPressure: c.noBackPressure}
	if watch {
		if r.key, err = p.poller().AddNew(d.FD(), p); err != nil {
			// The socket is gone from c: without the poller it cannot wait.
			c.mb.unretire()
			sock, aerr := d.Attach()
			if aerr != nil {
				c.sock = closedSock{}
				c.restoreReader(true) // it fails on the closed socket and ends
				c.terminate(fmt.Errorf("etcp: passivation: %w", aerr))
				return false
			}
			c.useSocket(sock)
			c.restoreReader(true)
			return false
		}
	}
	c.sleep(watch)
	p.sleep = r
	p.mb.Store(nil)
	return true
}

// wake spawns the connection's actor again from its record and delivers
// msg (if any) to it (p locked). It returns the new actor's mailbox, held:
// the caller releases it or runs it; if the actor could not be made, nil
// and what is left to do once p is unlocked.
func (p *process) wake(msg any, system bool) (*mailbox, func()) {
	r := p.sleep
	p.sleep = nil
	if r.watched {
		p.poller().Remove(r.sock.FD(), r.key)
	}
	sock, err := r.sock.Attach()
	c := &conn{g: p.g, proc: p, id: p.id, names: r.names, notify: r.notify, accepted: r.accepted, passive: r.passive,
		idle: r.idle, tracer: r.tracer, handler: r.handler, pending: r.pending, activeN: r.activeN,
		recvN: r.recvN, recvWant: r.recvWant, life: lifeUp, upNotified: true,
		hibernated: true, resumed: true, self: p.self, noBackPressure: r.noBackPressure}
	c.mb.conn = c
	c.refs.Store(1) // the record kept the actor's reference
	if err != nil {
		c.sock, c.endErr = closedSock{}, err // Started ends the connection with it
	} else {
		c.useSocket(sock)
	}
	c.mb.hold()
	props := actor.PropsFromProducer(func() actor.Actor { return c }, actor.WithMailbox(c.mailbox))
	pid, err := actor.DefaultSpawner(p.g.sys, p.self.Id+"$wake", props, spawnParent{pid: p.parent})
	if err != nil {
		// Only a name taken by someone else gets here: the connection
		// cannot come back, so it ends without its actor.
		c.Logger().Error("etcp: waking a connection failed", "err", err)
		c.sock.Close()
		p.lost(c, err)
		if !system && msg != nil {
			rejectClosed(p.g.sys.Root, msg)
		}
		return nil, func() {
			c.g.ended(p)
			c.unref()
		}
	}
	p.awaken(true, r.halfClosed)
	p.g.sys.ProcessRegistry.Remove(pid) // drop the temporary name...
	pid.Id = p.self.Id                  // ...and take the connection's; the actor has not run yet
	p.mb.Store(&c.mb)
	if msg != nil {
		c.mb.post(msg, system)
	}
	return &c.mb, nil
}

// lost ends a connection whose actor could not be spawned again: it leaves
// the registry, and its parent and owner hear of it as if it had stopped
// (p locked; wake's caller then takes it out of its group).
func (p *process) lost(c *conn, reason error) {
	p.awaken(false, false)
	g := c.g
	g.hibernated.Add(-1)
	p.g.sys.ProcessRegistry.Remove(p.self)
	c.unregisterAll()
	if c.notify != nil {
		p.g.sys.Root.Send(c.notify, &ConnDown{Info: ConnInfo{ID: p.id, PID: p.self}, Reason: reason})
	}
	if parent, ok := p.g.sys.ProcessRegistry.Get(p.parent); ok && p.parent != nil {
		parent.SendSystemMessage(p.parent, &actor.Terminated{Who: p.self})
	}
}

// spawnParent is the spawner context a re-spawn runs under: protoactor's
// spawner only asks it for the parent's PID.
type spawnParent struct {
	actor.SpawnerContext
	pid *actor.PID
}

func (s spawnParent) Self() *actor.PID { return s.pid }

// closedSock stands in for a socket that could not be brought back.
type closedSock struct{}

var _ transport.Conn = closedSock{}

func (closedSock) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (closedSock) Write([]byte) (int, error)        { return 0, net.ErrClosed }
func (closedSock) Close() error                     { return nil }
func (closedSock) CloseWrite() error                { return net.ErrClosed }
func (closedSock) LocalAddr() net.Addr              { return nil }
func (closedSock) RemoteAddr() net.Addr             { return nil }
func (closedSock) SetDeadline(time.Time) error      { return net.ErrClosed }
func (closedSock) SetReadDeadline(time.Time) error  { return net.ErrClosed }
func (closedSock) SetWriteDeadline(time.Time) error { return net.ErrClosed }
func (closedSock) Handshake(context.Context) error  { return net.ErrClosed }
func (closedSock) Transport() string                { return "closed" }
func (closedSock) SocketOptions() (transport.SocketOptions, error) {
	return transport.SocketOptions{}, net.ErrClosed
}
func (closedSock) SetSocketOptions(transport.SocketOptions) error { return net.ErrClosed }
