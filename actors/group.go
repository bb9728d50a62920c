package actors

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/etcp-go/etcp/actors/internal/poll"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/transport"
)

// group is the set of connections one server, client or pool owns: what
// they share (socket options, handler factory, init argument, logger,
// tracer), the list of those that are up, their counts by state, and the
// goroutines they run. Packages server, client and pool each make one;
// group.Spawn turns a connected socket into a connection actor of the
// group. Its methods are safe for concurrent use.
type group struct {
	sys           *actor.ActorSystem // its connections' (kept here, not in each process)
	socket        transport.Options
	factory       behaviours.Factory
	arg           any
	logger        *slog.Logger
	tracer        Tracer
	idleHibernate time.Duration
	parkAfter     time.Duration
	idleTimeout   time.Duration
	halfClose     bool           // the peer's FIN leaves the connection up for writing (WithHalfClose)
	loops         []*poll.Poller // the event loop's pollers; none without one
	writeQueue    WriteQueue
	mailboxLimit  int
	reg           registry.Registry
	owner         string // the owner's name, in registry entries
	alias         string // a name every connection also registers (a named client's)

	conns      connList
	live       sync.WaitGroup // connections whose actor or reader goroutine still runs
	hibernated atomic.Int64
	stopping   atomic.Bool
	forced     atomic.Bool // Force ran: every socket's deadline is past
	stopReason atomic.Pointer[error]
	onEnd      func(counted bool) // see SetOnEnd
	handshakes atomic.Int64       // failed handshakes (HandshakeFailures)
	sweep      sweeper
	metrics    *groupMetrics // nil unless the system has a MeterProvider (metrics.go)
}

// newGroup validates o and makes a group of sys's whose connections, owned
// by owner (a name for logs and registry entries), get a handler from
// factory and arg as their Init argument. An invalid option is an error
// wrapping [ErrInvalidOptions].
func newGroup(sys *actor.ActorSystem, owner string, o *ConnOptions, factory behaviours.Factory, arg any) (*group, error) {
	so, err := o.validate()
	if err != nil {
		return nil, err
	}
	logger := o.Logger
	if logger == nil {
		logger = sys.Logger()
	}
	reg := o.Registry
	if reg == nil {
		reg = registry.Of(sys)
	}
	park := o.ParkAfter
	if park == 0 {
		park = DefaultParkAfter
	}
	var loops []*poll.Poller
	for range o.EventLoops {
		p := poll.New(0)
		p.OnError = func(err error) { logger.Error("etcp: an event loop's poller failed", "owner", owner, "err", err) }
		loops = append(loops, p)
	}
	return &group{sys: sys, loops: loops, socket: so, factory: factory, arg: arg, logger: logger, tracer: o.Tracer,
		idleHibernate: o.IdleHibernate, parkAfter: park, idleTimeout: o.IdleTimeout, halfClose: o.HalfClose,
		writeQueue: o.WriteQueue, mailboxLimit: o.MailboxLimit, reg: reg, owner: owner, metrics: newGroupMetrics(sys, owner)}, nil
}

// Registry is where the group's connections are registered.
func (g *group) Registry() registry.Registry { return g.reg }

// Connections lists the group's connections from its registry, by ID; a
// registry that keeps nothing returns an error matching
// registry.ErrNoRegistry.
func (g *group) Connections() ([]ConnInfo, error) {
	entries, err := g.reg.Select(registry.ByOwner(g.owner))
	if err != nil {
		return nil, err
	}
	out := make([]ConnInfo, 0, len(entries))
	for _, e := range entries {
		if e.Name != g.selfName(e.PID) {
			continue // a name the handler chose: the connection is listed under its id
		}
		out = append(out, ConnInfo{ID: e.ConnID, PID: e.PID, Local: netAddr(e.Local), Peer: netAddr(e.Peer),
			Transport: e.Transport})
	}
	slices.SortFunc(out, func(a, b ConnInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// netAddr turns a registry address back into a net.Addr (nil for none).
func netAddr(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

// Socket is the group's validated socket options.
func (g *group) Socket() *transport.Options { return &g.socket }

// Logger is the group's logger.
func (g *group) Logger() *slog.Logger { return g.logger }

// SetLogger replaces the logger (for example with one tagged with the
// owner's name); call it before the first Spawn.
func (g *group) SetLogger(l *slog.Logger) { g.logger = l }

// SetAlias makes every connection of the group register under name too,
// from its start to its end (a client's WithName); call it before the
// first Spawn.
func (g *group) SetAlias(name string) { g.alias = name }

// SetArg replaces the init argument (a server's ListenInit may); call it
// before the first Spawn.
func (g *group) SetArg(arg any) { g.arg = arg }

// SetOnEnd sets a function called once for every connection of the
// group when it has ended (its actor stopped, or its start failed): an
// owner counting connections against a limit frees a slot there, if
// counted (the connection was not taken out of the count by
// group.Uncount). Call it before the first Spawn.
func (g *group) SetOnEnd(f func(counted bool)) { g.onEnd = f }

// ended takes a connection out of the group once it has ended.
func (g *group) ended(p *process) {
	if g.metrics != nil {
		g.metrics.ended(g, p) // removes p, adding what it counted
	} else {
		g.conns.remove(p)
	}
	counted := p.endCount()
	if g.onEnd != nil {
		g.onEnd(counted)
	}
}

// HandshakeFailures counts the transport handshakes (TLS, a StartTLS
// upgrade included) that failed or timed out since the group was made:
// peers that sent garbage or a plain-TCP hello, or went silent.
func (g *group) HandshakeFailures() int64 { return g.handshakes.Load() }

// handshakeFailed counts a failed handshake, in the metrics too.
func (g *group) handshakeFailed() {
	g.handshakes.Add(1)
	if g.metrics != nil {
		g.metrics.handshakeFailed(g)
	}
}

// BeginStop tells the group its owner is stopping its connections:
// their Terminate sees reason (nil: [ErrShutdown]), and they no longer
// send ConnDown (the owner is going away). Call it before stopping them.
func (g *group) BeginStop(reason error) {
	if reason != nil {
		g.stopReason.Store(&reason)
	}
	g.stopping.Store(true)
	g.stopSweep()
}

func (g *group) ownerStopReason() error {
	if r := g.stopReason.Load(); r != nil {
		return *r
	}
	return ErrShutdown
}

// Spawn makes the connection actor for sock, a connected socket (accepted
// from a listener when accepted is true), spawned by spawner under name
// with id as its ID. Spawn returns at once; the actor runs the transport
// handshake and Init in its own turn. If notify is not nil it is sent a
// *[ConnUp] once Init has run (or the start failed), and a *[ConnDown]
// when a connection that came up ends. If the spawn fails, the socket is
// closed.
func (g *group) Spawn(spawner actor.SpawnerContext, name string, id uint64, sock transport.Conn,
	accepted bool, notify *actor.PID) (*actor.PID, error) {
	return g.spawn(spawner, name, id, sock, accepted, notify, false)
}

func (g *group) spawn(spawner actor.SpawnerContext, name string, id uint64, sock transport.Conn,
	accepted bool, notify *actor.PID, upOnly bool) (*actor.PID, error) {
	c := newConn(g, sock, id, accepted, notify, upOnly)
	pid, err := spawner.SpawnNamed(c.props(), name)
	if err != nil {
		c.abandon()
		return nil, err
	}
	return pid, nil
}

// spawner is Spawn for one goroutine (or one actor) at a time: its Props
// are made once and reused for every connection it spawns, where Spawn
// makes a Props per connection. A server's connection supervisors use
// one each (host.NewSpawner).
type spawner struct {
	g     *group
	next  *conn // the connection being spawned, read by the Props' functions
	props *actor.Props
}

// newSpawner returns a spawner of g's connections.
func (g *group) newSpawner() *spawner {
	s := &spawner{g: g}
	s.props = actor.PropsFromProducer(func() actor.Actor { return s.next },
		actor.WithMailbox(func() actor.Mailbox { return &s.next.mb }),
		actor.WithSpawnFunc(func(sys *actor.ActorSystem, id string, p *actor.Props, parent actor.SpawnerContext) (*actor.PID, error) {
			return s.next.spawn(sys, id, p, parent)
		}))
	return s
}

// Spawn is group.Spawn.
func (s *spawner) Spawn(spawner actor.SpawnerContext, name string, id uint64, sock transport.Conn,
	accepted bool, notify *actor.PID) (*actor.PID, error) {
	s.next = newConn(s.g, sock, id, accepted, notify, false)
	pid, err := spawner.SpawnNamed(s.props, name)
	if err != nil {
		s.next.abandon()
	}
	s.next = nil
	return pid, err
}

// Start is Spawn for a client: it returns once Init has run, with the
// reason the handshake or Init failed (wrapping [ErrDeclined] for a
// decline), or ctx's error if ctx ends first (the connection is then
// stopped).
func (g *group) Start(ctx context.Context, spawner actor.SpawnerContext, name string, id uint64,
	sock transport.Conn) (*actor.PID, error) {
	sys := spawner.ActorSystem()
	w := newWaiter(sys)
	pid, err := g.spawn(spawner, name, id, sock, false, w.pid, true)
	if err != nil {
		w.sys.ProcessRegistry.Remove(w.pid)
		return nil, err
	}
	res, err := w.wait(ctx)
	if err != nil {
		sys.Root.Stop(pid)
		return nil, err
	}
	if up, ok := res.(*ConnUp); ok && up.Err != nil {
		return nil, up.Err
	}
	return pid, nil
}

// Force interrupts every connection's blocked socket operation (a write
// to a peer that does not read, a handshake, a read) by setting its
// deadline in the past, so that a stop no peer can hold up: an owner
// calls it when its connections take longer than it allows to end. The
// connections then end with their owner's stop reason.
func (g *group) Force() {
	g.forced.Store(true)
	g.conns.each(func(p *process) {
		p.mu.Lock()
		if mb := p.mb.Load(); mb != nil {
			_ = mb.conn.sock.SetDeadline(kickTime)
		}
		p.mu.Unlock()
	})
}

// Stats counts the group's connections by state.
func (g *group) Stats() Stats {
	s := g.conns.stats()
	s.Hibernated = int(g.hibernated.Load())
	return s
}

// Wait returns once every connection the group spawned has ended and its
// goroutines have exited. Stop the connections first.
func (g *group) Wait() { g.live.Wait() }

// ConnInfo identifies one connection.
type ConnInfo struct {
	ID        uint64     // unique within its server, client or pool
	PID       *actor.PID // the connection's actor
	Local     net.Addr   // the socket's local address
	Peer      net.Addr   // the peer's address (nil if a passivated socket lost its peer)
	Transport string     // the transport's name ("tcp", "tls"...)
}

// Stats counts a group's connections by what they hold right now, read
// from their states.
type Stats struct {
	// Up is the number of connections that are up (Init accepted them).
	Up int
	// Reading have a reader goroutine: bytes are flowing, or the reader
	// waits in its own goroutine (at most ParkAfter when idle).
	Reading int
	// Parked wait on the shared poller and hold no goroutine.
	Parked int
	// Hibernated asked to hibernate and have not woken since; TLS ones
	// keep their actor and reader.
	Hibernated int
	// Passivated are hibernated connections with no actor and no
	// goroutine: a small record under their PID.
	Passivated int
	// Busy have an actor turn under way or scheduled (a goroutine runs
	// their mailbox, or will).
	Busy int
}

// StatsOf counts one connection of sys by its state (Up is 1, and the
// rest say what it holds), read without waking it. It reports false if
// pid is not a live connection of this process. Hibernated is counted
// only for a passivated connection (an owner's Stats count all).
func StatsOf(sys *actor.ActorSystem, pid *actor.PID) (Stats, bool) {
	if pid == nil {
		return Stats{}, false
	}
	proc, ok := sys.ProcessRegistry.GetLocal(pid.Id)
	p, isConn := proc.(*process)
	if !ok || !isConn {
		return Stats{}, false
	}
	s := p.stats()
	if s.Up == 0 {
		return s, false
	}
	if s.Passivated == 1 {
		s.Hibernated = 1
	}
	return s, true
}
