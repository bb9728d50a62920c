package server

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
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

// acceptGroup is what the acceptors of one listener share.
type acceptGroup struct {
	listener transport.Listener // the listening socket
	conns    *actors.Group      // every accepted connection joins it
	logger   *slog.Logger       // the acceptors' logger
	sleeping atomic.Bool
	nextID   atomic.Uint64
}

// Sleeping reports whether the group was put to sleep.
func (g *acceptGroup) Sleeping() bool { return g.sleeping.Load() }

// SetSleeping puts the acceptors to sleep (true) or wakes them (false):
// the listener's deadline makes blocked Accept calls return at once, and
// the acceptors then confirm through sleepAcceptor and wakeAcceptor.
func (g *acceptGroup) SetSleeping(s bool) error {
	g.sleeping.Store(s)
	if s {
		return g.listener.SetDeadline(time.Unix(1, 0))
	}
	return g.listener.SetDeadline(time.Time{})
}

// sleepAcceptor and wakeAcceptor are requests an acceptor answers with a
// *actors.Reply once its mode has changed.
type (
	sleepAcceptor struct{}
	wakeAcceptor  struct{}
)

// acceptor is the actor that accepts connections from a listener and
// supervises them: like ranch, each acceptor has its own slice of
// connections, so no single supervisor is a bottleneck. It accepts one
// connection per message (a self-sent tick), so its mailbox stays
// responsive between accepts; sleeping costs no goroutine at all.
type acceptor struct {
	id      int
	group   *acceptGroup
	mode    atomic.Int32
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

// newAcceptor makes acceptor number id of group g.
func newAcceptor(id int, g *acceptGroup) *acceptor {
	a := &acceptor{id: id, group: g}
	if g.Sleeping() {
		a.mode.Store(int32(ModeSleeping))
	}
	return a
}

// props returns the acceptor's Props.
func (a *acceptor) props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return a }, actor.WithSupervisor(connSupervision))
}

// Mode reads the acceptor's mode; safe from any goroutine.
func (a *acceptor) Mode() Mode { return Mode(a.mode.Load()) }

// Receive handles the acceptor's messages.
func (a *acceptor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.Send(ctx.Self(), tick)
	case *acceptTick:
		a.acceptOne(ctx)
	case *sleepAcceptor:
		if a.Mode() == ModeAccepting {
			a.mode.Store(int32(ModeSleeping))
		}
		ctx.Respond(&actors.Reply{Value: a.Mode()})
	case *wakeAcceptor:
		if a.Mode() == ModeSleeping && !a.group.Sleeping() {
			a.mode.Store(int32(ModeAccepting))
			ctx.Send(ctx.Self(), tick)
		}
		ctx.Respond(&actors.Reply{Value: a.Mode()})
	case *actor.Stopping:
		if a.retry != nil {
			a.retry.Stop()
		}
		a.mode.Store(int32(ModeClosed))
	}
}

func (a *acceptor) acceptOne(ctx actor.Context) {
	if a.Mode() != ModeAccepting {
		return
	}
	if a.group.Sleeping() {
		a.mode.Store(int32(ModeSleeping))
		return
	}
	sock, err := a.group.listener.Accept()
	if err != nil {
		a.acceptFailed(ctx, err)
		return
	}
	a.backoff = 0
	id := a.group.nextID.Add(1)
	if _, err := a.group.conns.Spawn(ctx, "c"+strconv.FormatUint(id, 10), id, sock, true, nil); err != nil {
		a.group.logger.Error("etcp: spawning a connection failed", "acceptor", a.id, "err", err)
	}
	ctx.Send(ctx.Self(), tick)
}

func (a *acceptor) acceptFailed(ctx actor.Context, err error) {
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
		a.group.logger.Warn("etcp: accept failed; retrying", "acceptor", a.id, "err", err, "delay", a.backoff)
		self, sys := ctx.Self(), ctx.ActorSystem()
		a.retry = time.AfterFunc(a.backoff, func() { sys.Root.Send(self, tick) })
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
