package actors

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// Passivation: a hibernating connection whose mailbox is empty and whose
// reader is parked stops being an actor. Its protoactor context, its Conn,
// its net.Conn and its runtime poller entry are let go; what is left is
// its process (below) holding a small record: the handler, the socket as
// a bare descriptor registered with the shared poller, and the few
// settings a connection carries. The first message to its PID, or the
// poller seeing bytes or a close, spawns the actor again, under the same
// PID and parent, with the same handler; Init does not run again.
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
// or while a read, write or StartTLS is under way.

// process is the connection's protoactor Process.
type process struct {
	mu     sync.Mutex              // taken to passivate and to wake
	mb     atomic.Pointer[mailbox] // the live actor's; nil while asleep or ended
	sys    *actor.ActorSystem
	parent *actor.PID
	self   *actor.PID
	sleep  *sleepRecord // set while passivated
	ended  bool         // the connection ended; guarded by mu
	tok    uint64       // the poller's token while asleep
	id     uint64

	prev, next *process // ConnList's links, guarded by the list
}

var _ actor.Process = (*process)(nil)

// sleepRecord is what a passivated connection keeps.
type sleepRecord struct {
	handler  behaviours.Handler
	cfg      *Config
	tracer   Tracer
	pending  []byte
	idle     time.Duration
	activeN  int32
	recvN    int32
	sock     transport.Detached
	accepted bool
	passive  bool
	recvWant bool
}

// passivated counts the connections that are passivated right now.
var passivated atomic.Int64

// Passivated is the number of connections of this process that are
// passivated (hibernated with no actor) right now.
func Passivated() int64 { return passivated.Load() }

var stopSystemMessage = &actor.Stop{}

func (p *process) SendUserMessage(_ *actor.PID, msg any)   { p.post(msg, false) }
func (p *process) SendSystemMessage(_ *actor.PID, msg any) { p.post(msg, true) }
func (p *process) Stop(_ *actor.PID)                       { p.post(stopSystemMessage, true) }

// post delivers to the live actor, waking it first if it sleeps.
func (p *process) post(msg any, system bool) {
	for {
		if mb := p.mb.Load(); mb != nil && mb.post(msg, system) {
			return
		}
		p.mu.Lock()
		switch {
		case p.mb.Load() != nil: // woken meanwhile, or a passivation gave up: post again
			p.mu.Unlock()
			continue
		case p.ended:
			p.mu.Unlock()
			if !system {
				rejectClosed(p.sys.Root, msg)
			}
			return
		}
		if mb := p.wake(msg, system); mb != nil {
			mb.release()
		}
		p.mu.Unlock()
		return
	}
}

// ready is the poller's call: the sleeping socket has bytes or closed.
// The new actor's first turn runs right here: this goroutine is the
// poller's, made for this.
func (p *process) ready() {
	p.mu.Lock()
	var mb *mailbox
	if p.sleep != nil {
		mb = p.wake(nil, false)
	}
	p.mu.Unlock()
	if mb != nil {
		mb.run()
	}
}

// info describes the connection for ConnList. The live actor changes
// its socket (StartTLS) with p locked, so its socket can be read here.
func (p *process) info() ConnInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	info := ConnInfo{ID: p.id, PID: p.self}
	switch mb := p.mb.Load(); {
	case p.sleep != nil:
		info.Local, info.Peer = p.sleep.sock.Addrs()
		info.Transport = p.sleep.sock.Transport()
	case mb != nil:
		s := mb.conn.sock
		info.Local, info.Peer, info.Transport = s.LocalAddr(), s.RemoteAddr(), s.Transport()
	}
	return info
}

// end runs when the actor has stopped for good.
func (p *process) end() {
	p.mu.Lock()
	p.ended = true
	p.mb.Store(nil)
	p.mu.Unlock()
}

// spawn is the connection's SpawnFunc: protoactor's own spawner, holding
// the mailbox until the registry entry is the connection's process.
func (c *Conn) spawn(sys *actor.ActorSystem, id string, props *actor.Props, parent actor.SpawnerContext) (*actor.PID, error) {
	p := &process{sys: sys, parent: parent.Self(), id: c.id}
	c.proc = p
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
// if not, the connection stays an actor.
func (c *Conn) passivate() bool {
	p := c.proc
	if p == nil || !canPark || c.state != stateUp || c.watched || c.upgrade != nil || c.heldRead ||
		c.recvTimed || c.out != nil || c.raw == nil {
		return false
	}
	det, ok := c.sock.(transport.Detacher)
	if !ok || len(c.ctx.Children()) > 0 || c.ctx.ReceiveTimeout() > 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !c.mb.retire() {
		return false // a message came in: handle it first
	}
	// A parked reader comes off the poller (if the poller fired, a reader
	// runs: it nudges us once it parks again). Off it either way goes any
	// fired registration of the old descriptor.
	reading := c.readerOn.Load()
	if !c.unpark(true) && reading {
		c.mb.unretire()
		return false
	}
	d, err := det.Detach()
	if err != nil {
		c.Logger().Debug("etcp: passivation failed; hibernating in place", "err", err)
		c.restoreReader(reading)
		c.mb.unretire()
		return false
	}
	if reading && !sharedPoller.park(d.FD(), p, &p.tok) {
		// The socket is gone from c: without the poller it cannot wait.
		c.mb.unretire()
		sock, aerr := d.Attach()
		if aerr != nil {
			c.readerOn.Store(false)
			c.unref() // the parked reader's reference: it will not run again
			c.sock = closedSock{}
			c.terminate(fmt.Errorf("etcp: passivation: %w", aerr))
			return false
		}
		c.useSocket(sock)
		c.restoreReader(true)
		return false
	}
	if reading {
		c.unref() // the parked reader's reference; the actor's goes to the record
	}
	p.sleep = &sleepRecord{handler: c.handler, cfg: c.cfg, tracer: c.tracer, pending: c.pending,
		idle: c.idle, activeN: int32(c.activeN), recvN: int32(c.recvN), sock: d,
		accepted: c.accepted, passive: c.passive, recvWant: c.recvWant}
	p.mb.Store(nil)
	passivated.Add(1)
	return true
}

// restoreReader parks the reader again after a passivation gave up.
func (c *Conn) restoreReader(reading bool) {
	if reading && !c.park() {
		go c.reader()
	}
}

// wake spawns the connection's actor again from its record and delivers
// msg (if any) to it (p locked). It returns the new actor's mailbox, held:
// the caller releases it or runs it; nil if the actor could not be made.
func (p *process) wake(msg any, system bool) *mailbox {
	r := p.sleep
	p.sleep = nil
	passivated.Add(-1)
	sharedPoller.unpark(r.sock.FD(), true, p, &p.tok)
	sock, err := r.sock.Attach()
	c := &Conn{cfg: r.cfg, id: p.id, accepted: r.accepted, passive: r.passive, idle: r.idle,
		tracer: r.tracer, handler: r.handler, pending: r.pending, activeN: int(r.activeN),
		recvN: int(r.recvN), recvWant: r.recvWant, state: stateUp, upNotified: true,
		hibernated: true, resumed: true, proc: p, self: p.self}
	c.mb.conn = c
	c.refs.Store(1) // the record kept the actor's reference
	if err != nil {
		c.sock, c.endErr = closedSock{}, err // Started ends the connection with it
	} else {
		c.useSocket(sock)
	}
	c.mb.hold()
	props := actor.PropsFromProducer(func() actor.Actor { return c }, actor.WithMailbox(c.Mailbox))
	pid, err := actor.DefaultSpawner(p.sys, p.self.Id+"$wake", props, spawnParent{pid: p.parent})
	if err != nil {
		// Only a name taken by someone else gets here: the connection
		// cannot come back, so it ends without its actor.
		c.Logger().Error("etcp: waking a connection failed", "err", err)
		c.sock.Close()
		p.lost(r.cfg, err)
		c.unref()
		if !system && msg != nil {
			rejectClosed(p.sys.Root, msg)
		}
		return nil
	}
	p.sys.ProcessRegistry.Remove(pid) // drop the temporary name...
	pid.Id = p.self.Id                // ...and take the connection's; the actor has not run yet
	p.mb.Store(&c.mb)
	if msg != nil {
		c.mb.post(msg, system)
	}
	return &c.mb
}

// lost ends a connection whose actor could not be spawned again: it leaves
// the registry and its owner's list, and its parent and owner hear of it
// as if it had stopped (p locked).
func (p *process) lost(cfg *Config, reason error) {
	p.ended = true
	p.sys.ProcessRegistry.Remove(p.self)
	if cfg.Conns != nil {
		cfg.Conns.remove(p)
	}
	if cfg.Owner != nil {
		cfg.Owner.ConnDown(ConnInfo{ID: p.id, PID: p.self}, reason)
	}
	if parent, ok := p.sys.ProcessRegistry.Get(p.parent); ok && p.parent != nil {
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
