package actors

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/transport"
)

// Mode is what an acceptor is doing.
type Mode int32

// Acceptor modes.
const (
	ModeAccepting Mode = iota // accepting connections
	ModeSleeping              // put to sleep: not accepting, costing nothing
	ModeClosed                // the listener is closed
)

var modeNames = [...]string{"accepting", "sleeping", "closed"}

// String names the mode ("accepting", "sleeping", "closed").
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// AcceptGroup is what the acceptors of one listener share.
type AcceptGroup struct {
	Listener transport.Listener // the listening socket
	Conn     *Config            // given to every accepted connection
	Logger   *slog.Logger       // the acceptors' logger
	sleeping atomic.Bool
	nextID   atomic.Uint64
}

// Sleeping reports whether the group was put to sleep.
func (g *AcceptGroup) Sleeping() bool { return g.sleeping.Load() }

// SetSleeping puts the acceptors to sleep (true) or wakes them (false):
// the listener's deadline makes blocked Accept calls return at once, and
// the acceptors then confirm through [SleepAcceptor] and [WakeAcceptor].
func (g *AcceptGroup) SetSleeping(s bool) error {
	g.sleeping.Store(s)
	if s {
		return g.Listener.SetDeadline(time.Unix(1, 0))
	}
	return g.Listener.SetDeadline(time.Time{})
}

// SleepAcceptor and WakeAcceptor are requests (send with RequestFuture)
// an acceptor answers with a *Reply once its mode has changed.
type (
	SleepAcceptor struct{}
	WakeAcceptor  struct{}
)

// Acceptor is the actor that accepts connections from a listener and
// supervises them: like ranch, each acceptor has its own slice of
// connections, so no single supervisor is a bottleneck. It accepts one
// connection per message (a self-sent tick), so its mailbox stays
// responsive between accepts; sleeping costs no goroutine at all.
type Acceptor struct {
	id      int
	group   *AcceptGroup
	mode    atomic.Int32
	next    *Conn // the connection being spawned (read by props' producers)
	props   *actor.Props
	backoff time.Duration
	retry   *time.Timer
}

type acceptTick struct{}

var tick = &acceptTick{}

// Accept back-off after errors such as EMFILE, as net/http does.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// connSupervision stops a connection that failed outside the callbacks
// (which catch their own panics): a restart could not bring its socket back.
var connSupervision = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })

// NewAcceptor makes acceptor number id of group g.
func NewAcceptor(id int, g *AcceptGroup) *Acceptor {
	a := &Acceptor{id: id, group: g}
	a.props = actor.PropsFromProducer(func() actor.Actor { return a.next },
		actor.WithMailbox(func() actor.Mailbox { return a.next.Mailbox() }),
		actor.WithSpawnFunc(func(sys *actor.ActorSystem, id string, p *actor.Props, parent actor.SpawnerContext) (*actor.PID, error) {
			return a.next.spawn(sys, id, p, parent)
		}))
	if g.Sleeping() {
		a.mode.Store(int32(ModeSleeping))
	}
	return a
}

// Props returns the acceptor's Props.
func (a *Acceptor) Props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return a }, actor.WithSupervisor(connSupervision))
}

// ID is the acceptor's number.
func (a *Acceptor) ID() int { return a.id }

// Mode reads the acceptor's mode; safe from any goroutine.
func (a *Acceptor) Mode() Mode { return Mode(a.mode.Load()) }

// Receive handles the acceptor's messages.
func (a *Acceptor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.Send(ctx.Self(), tick)
	case *acceptTick:
		a.acceptOne(ctx)
	case *SleepAcceptor:
		if a.Mode() == ModeAccepting {
			a.mode.Store(int32(ModeSleeping))
		}
		ctx.Respond(&Reply{Value: a.Mode()})
	case *WakeAcceptor:
		if a.Mode() == ModeSleeping && !a.group.Sleeping() {
			a.mode.Store(int32(ModeAccepting))
			ctx.Send(ctx.Self(), tick)
		}
		ctx.Respond(&Reply{Value: a.Mode()})
	case *actor.Stopping:
		if a.retry != nil {
			a.retry.Stop()
		}
		a.mode.Store(int32(ModeClosed))
	}
}

func (a *Acceptor) acceptOne(ctx actor.Context) {
	if a.Mode() != ModeAccepting {
		return
	}
	if a.group.Sleeping() {
		a.mode.Store(int32(ModeSleeping))
		return
	}
	sock, err := a.group.Listener.Accept()
	if err != nil {
		a.acceptFailed(ctx, err)
		return
	}
	a.backoff = 0
	a.next = NewConn(a.group.Conn, sock, a.group.nextID.Add(1), true)
	if _, err := ctx.SpawnNamed(a.props, "c"+strconv.FormatUint(a.next.id, 10)); err != nil {
		a.group.Logger.Error("etcp: spawning a connection failed", "acceptor", a.id, "err", err)
		a.next.Abandon()
	}
	a.next = nil
	ctx.Send(ctx.Self(), tick)
}

func (a *Acceptor) acceptFailed(ctx actor.Context, err error) {
	switch {
	case errors.Is(err, net.ErrClosed):
		a.mode.Store(int32(ModeClosed))
	case isTimeout(err):
		if a.group.Sleeping() {
			a.mode.Store(int32(ModeSleeping))
			return
		}
		ctx.Send(ctx.Self(), tick) // woken before we noticed the sleep
	default:
		// EMFILE and friends: log, back off, keep going. Never die.
		a.backoff = min(max(2*a.backoff, minBackoff), maxBackoff)
		a.group.Logger.Warn("etcp: accept failed; retrying", "acceptor", a.id, "err", err, "delay", a.backoff)
		self, sys := ctx.Self(), ctx.ActorSystem()
		a.retry = time.AfterFunc(a.backoff, func() { sys.Root.Send(self, tick) })
	}
}
