package server

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/transport"
)

// acceptor is the actor that accepts connections from one listening
// socket (ranch's ranch_acceptor) and hands each to its connection
// supervisor. It accepts one connection per message (a self-sent tick),
// so its mailbox stays responsive between accepts: a Stop that arrives
// while it waits inside Accept kicks the listener so the Accept returns
// (see interrupt). It never decides the server's mode: it reads it
// before every Accept, and sleeps (no tick, no goroutine) while the
// server sleeps, waits for a slot, or waits for its listener to be
// reopened.
type acceptor struct {
	id    int // 1 to the number of acceptors
	s     *Server
	retry *time.Timer

	// held is a socket accepted as the server went to sleep, or over a
	// limit lowered during its Accept: it waits, unadmitted and unread as
	// in the backlog, for Wake or for room (see acceptOne, overLimit).
	held transport.Conn

	// Leaving Accept for the mailbox (see interrupt).
	mu       sync.Mutex
	inAccept *listener // the socket it is inside Accept on; nil outside
	kicked   bool      // it kicked inAccept and has not left Accept since
	wanted   bool      // a message waits: do not enter Accept
}

type acceptTick struct{}

var tick = &acceptTick{}

// Accept back-off after errors such as EMFILE, as net/http does.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// props returns the acceptor's Props. A Stop, or any message but a
// tick, posted while the acceptor waits inside Accept makes that Accept
// return at once (see interrupt).
func (a *acceptor) props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return a },
		actor.WithMailbox(host.NewMailbox(host.MailboxHooks{Posted: a.posted})))
}

// posted interrupts Accept for a Stop, and for anything but the
// acceptor's own tick (a stray message, which it answers or drops).
func (a *acceptor) posted(msg any, system bool) {
	if system {
		if _, ok := msg.(*actor.Stop); !ok {
			return
		}
	} else if msg == tick {
		return
	}
	a.interrupt()
}

// interrupt makes the acceptor leave Accept, or not enter it, so that its
// mailbox runs what was just posted. Inside Accept it kicks the listener
// (a deadline in the past), and the kick holds until this acceptor has
// left Accept: acceptors share a listening socket, and the one the kick
// wakes first may be another (the stopped one can be queued on the
// socket's read lock); had that one settled the deadline, the stopped one
// would block until a client came.
func (a *acceptor) interrupt() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wanted = true
	if a.inAccept != nil && !a.kicked {
		a.kicked = true
		a.s.listening.kick(a.inAccept)
	}
}

// enter marks the acceptor inside Accept on ln, unless a message waits.
func (a *acceptor) enter(ln *listener) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wanted {
		a.wanted = false
		return false
	}
	a.inAccept = ln
	return true
}

// leave marks the acceptor out of Accept and takes back its kick; the
// messages that asked for it run before its next tick.
func (a *acceptor) leave() {
	a.mu.Lock()
	ln, kicked := a.inAccept, a.kicked
	a.inAccept, a.kicked, a.wanted = nil, false, false
	a.mu.Unlock()
	if kicked {
		a.s.listening.unkick(ln)
	}
}

// Receive handles the acceptor's messages.
func (a *acceptor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.Send(ctx.Self(), tick)
	case *acceptTick:
		a.acceptOne(ctx)
	case *actor.Stopping:
		a.s.slots.forget(ctx.Self())
		if a.retry != nil {
			a.retry.Stop()
		}
		if a.held != nil { // it holds no room: nothing to give back
			a.held.Close()
			a.held = nil
		}
	case *actor.Stopped, *actor.Restarting:
	default:
		stray(a.s, ctx, "acceptor")
	}
}

func (a *acceptor) acceptOne(ctx actor.Context) {
	s := a.s
	if s.listening.Mode() != ModeAccepting {
		return // Wake ticks every acceptor
	}
	// A reservation is taken before Accept, so that at the limit peers
	// wait in the backlog, and admitted once the peer is there (see
	// slots). With RejectOverLimit none is taken: the peer is admitted
	// or rejected once accepted, so an idle acceptor holds no room and
	// peers are rejected only at the limit.
	reject := s.opts.RejectOverLimit
	self := ctx.Self()
	if reject {
		self = nil // never parks: rejects
	}
	sock := a.held
	a.held = nil
	if sock == nil {
		ln := s.listening.ln(a.id - 1)
		if !reject && !s.slots.reserve(self) {
			return // room coming free ticks us
		}
		if !a.enter(ln) { // a message waits: run it first
			if !reject {
				s.slots.unreserve()
			}
			ctx.Send(ctx.Self(), tick)
			return
		}
		var err error
		sock, err = ln.Accept()
		a.leave()
		if err != nil {
			if !reject {
				s.slots.unreserve()
			}
			a.acceptFailed(ctx, ln, err)
			return
		}
		s.acceptErrs.recovered(s.log)
		if s.listening.Mode() == ModeSleeping {
			// Sleep came after the deadline check of this Accept: the
			// socket waits for Wake (which ticks us), as it would have in
			// the backlog, so that nothing is accepted once Sleep returns.
			// (Closed: it is handed over, and ends with the server.)
			a.held = sock
			if !reject {
				s.slots.unreserve()
			}
			return
		}
		if !s.slots.admit(self, !reject) {
			a.overLimit(ctx, sock)
			return
		}
	} else if !s.slots.admit(self, false) {
		a.overLimit(ctx, sock)
		return
	}
	s.accepted.Add(1)
	s.countChanged()
	s.handOff(sock)
	ctx.Send(ctx.Self(), tick)
}

// overLimit deals with a socket accepted with no room for it (the limit
// was lowered while the acceptor was inside Accept, or is reached with
// RejectOverLimit): it is closed with RejectOverLimit; otherwise the
// acceptor holds it, unadmitted and unread as in the backlog, until room
// comes free (admit parked the acceptor: room ticks it).
func (a *acceptor) overLimit(ctx actor.Context, sock transport.Conn) {
	if a.s.opts.RejectOverLimit {
		a.s.rejected.Add(1)
		sock.Close()
		ctx.Send(ctx.Self(), tick)
		return
	}
	a.held = sock
}

func (a *acceptor) acceptFailed(ctx actor.Context, ln *listener, err error) {
	s := a.s
	switch {
	case isTimeout(err):
		// Asleep, or kicked because another acceptor was asked to stop.
		s.listening.settle(ln)
		ctx.Send(ctx.Self(), tick)
	case errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EINVAL):
		// Closed, or no longer listening (shut down behind our back).
		if s.listening.Mode() != ModeClosed {
			ctx.Send(ctx.Parent(), &listenerDied{idx: (a.id - 1) % len(s.listening.lns), ln: ln})
		}
	default:
		// EMFILE and friends: log once per burst, back off, keep going.
		d := s.acceptErrs.failed(s.log, err)
		self, root := ctx.Self(), ctx.ActorSystem().Root
		a.retry = time.AfterFunc(d, func() { root.Send(self, tick) })
	}
}
