package actors

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// connState is where a connection is in its life.
type connState uint8

const (
	stateStarting connState = iota
	stateUp
	stateDone // Terminate ran (or the start failed); the socket is closed
)

// Conn is the actor that owns one socket: server, client and pool
// connections are all this actor. Socket reads arrive in its mailbox as
// messages (posted inline by its reader, see reader.go), as do calls,
// casts, events and anything else; it runs the handler's callbacks one at
// a time and applies the Results they return (apply.go).
//
// Conn also implements [behaviours.Conn], the metadata every callback
// sees. Its methods are for the actor's own goroutine only.
type Conn struct {
	mb       mailbox // first: the hot fields sit together
	cfg      *Config
	sock     transport.Conn
	raw      syscall.RawConn // set when reads can park without a buffer
	readFn   func(uintptr) bool
	handler  behaviours.Handler
	ctx      actor.Context
	self     *actor.PID
	id       uint64
	ev       readEvent     // the read in flight: see reader.go
	consumed chan struct{} // made by the reader the first time it must wait; see readLoop
	pending  []byte        // bytes read but not yet delivered
	activeN  int           // frames left before turning passive; 0 = no limit
	recvN    int
	upgrade  *tls.Config // a StartTLS waiting for the current read to end
	out      *[]byte     // the write buffer: see write.go

	// Atomics shared with the reader (reader.go, park.go).
	evState    atomic.Int32 // evPosted, evWaiting, evConsumed, evClosed
	refs       atomic.Int32
	readWanted atomic.Bool
	readerOn   atomic.Bool
	parkable   atomic.Bool
	parkReq    atomic.Bool
	parkArmed  atomic.Bool // the idle deadline is set; changed under dlMu
	dlMu       sync.Mutex  // orders read-deadline changes of actor and reader

	readsSinceArm uint32        // reader only: reads since the idle deadline was armed
	parkTok       uint64        // the poller's token; guarded by the poller's mutex
	wdeadline     time.Duration // the write deadline, as time.Since(epoch)

	// The idle timeout (timeout.go) and hibernation (hibernate.go).
	idle        time.Duration // < 0: none
	lastArrival time.Duration // as time.Since(epoch)
	idleGen     uint64
	idleTimer   *time.Timer
	hibTimer    *time.Timer

	from   behaviours.From // the call being handled
	endErr error           // the reason the connection ended with
	tracer Tracer
	log    *slog.Logger

	state         connState
	accepted      bool // server side: StartTLS acts as a TLS server
	passive       bool
	recvWant      bool
	recvTimed     bool
	heldRead      bool // the reader waits for startTLS to release its read
	hibernated    bool
	hibernateNext bool
	upNotified    bool // the owner heard ConnUp(nil), so it hears ConnDown
	resumed       bool // re-spawned after a passivation: Init ran before
	watched       bool // someone watches the actor: it never passivates

	proc *process // the connection's registry entry: see passivate.go
}

// NewConn prepares the actor for a connected socket; spawn it with
// [Conn.Props] or a Props whose producer returns it and whose mailbox
// producer returns [Conn.Mailbox]. accepted says the socket came from a
// listener.
func NewConn(cfg *Config, sock transport.Conn, id uint64, accepted bool) *Conn {
	c := &Conn{
		cfg:      cfg,
		sock:     sock,
		id:       id,
		accepted: accepted,
		passive:  cfg.Socket.Passive,
		idle:     behaviours.Never,
		tracer:   cfg.Tracer,
	}

	c.mb.conn = c
	c.useSocket(sock)
	c.refs.Store(1)
	if cfg.Live != nil {
		cfg.Live.Add(1)
	}
	return c
}

// Props returns Props that spawn c (one spawn only).
func (c *Conn) Props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return c },
		actor.WithMailbox(c.Mailbox), actor.WithSpawnFunc(c.spawn))
}

// Mailbox returns c's mailbox, for a Props' mailbox producer.
func (c *Conn) Mailbox() actor.Mailbox { return &c.mb }

// Abandon releases a Conn that was never spawned: it closes the socket.
func (c *Conn) Abandon() {
	c.sock.Close()
	c.unref()
}

// useSocket switches the connection to sock, choosing how it is read.
func (c *Conn) useSocket(sock transport.Conn) {
	c.sock, c.raw = sock, nil
	if sc, ok := sock.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.raw = rc
			if c.readFn == nil {
				c.readFn = c.rawRead
			}
		}
	}
	c.updateParkable()
}

// Receive is the actor's behaviour: it routes every message to a callback.
func (c *Conn) Receive(ctx actor.Context) {
	c.ctx = ctx
	msg := ctx.Message()
	if c.state == stateDone {
		c.receiveAfterEnd(msg)
		return
	}
	if c.tracer != nil {
		c.traceMessage(msg)
	}
	if c.hibernated && msg != timerFire && msg != hibernateTick && msg != passivateNudge {
		c.wake()
	}
	switch m := msg.(type) {
	case *actor.Started:
		if !c.resumed {
			c.self = ctx.Self()
			c.start()
		} else if c.resumed = false; c.endErr != nil {
			err := c.endErr // the socket could not be brought back
			c.endErr = nil
			c.terminate(err)
		}
	case *Call:
		c.arrived()
		c.from = behaviours.NewFrom(ctx.Sender())
		c.run(cbCall, m.Request, nil)
		c.from = behaviours.From{}
	case *Cast:
		c.arrived()
		c.run(cbCast, m.Message, nil)
	case *Event:
		c.arrived()
		c.run(cbEvent, m.Event, nil)
	case *Send:
		c.arrived()
		c.onSend(m)
	case *idleFire:
		c.onIdle(m)
	case *hibernateFire:
		c.onHibernateTimer()
	case *nudge:
	case *Stop:
		c.terminate(m.Reason)
		c.ack(nil)
	case *actor.Stopping:
		c.terminate(c.ownerStopReason())
	case *actor.Stopped, *actor.Restarting, *actor.ReceiveTimeout, *actor.Terminated:
	case *CodeChange:
		c.onCodeChange(m)
	case *GetState:
		c.ack(c.stateSnapshot())
	case *SetTrace:
		c.tracer = m.Tracer
		c.ack(nil)
	case *Info:
		c.ack(c.Info())
	default:
		c.arrived()
		c.run(cbInfo, msg, nil)
	}
	if c.state == stateUp {
		c.settle()
	}
}

// receiveRead handles what the reader posted, in the mailbox's turn (see
// mailbox.drain); c.ctx is the context of the actor's earlier messages.
func (c *Conn) receiveRead(ev *readEvent) {
	if c.state == stateDone {
		return
	}
	if c.hibernated {
		c.wake()
	}
	c.arrived()
	c.onRead(ev)
	if c.state == stateUp {
		c.settle()
	}
}

// receiveAfterEnd answers what reaches a connection that has ended.
func (c *Conn) receiveAfterEnd(msg any) {
	switch msg.(type) {
	case *actor.Stopped:
		c.mb.closeTo(c.ctx.ActorSystem().Root)
		if c.proc != nil {
			c.proc.end()
		}
		c.unref()
	case *Stop:
		c.ack(nil) // stopping a stopped connection succeeds
	case *Call, *Send, *CodeChange, *GetState, *SetTrace, *Info:
		c.ack(ErrClosed)
	}
}

// start runs on Started: the transport handshake, then Init.
func (c *Conn) start() {
	if err := c.handshake(c.sock); err != nil {
		c.fail(err)
		return
	}
	c.handler = c.cfg.Factory()
	if c.handler == nil {
		c.fail(errors.New("etcp: handler factory returned nil"))
		return
	}
	r, err := c.invoke(cbInit, c.cfg.Arg, nil, behaviours.From{})
	if err != nil {
		c.fail(err)
		return
	}
	if r.Declined() {
		c.fail(ErrDeclined)
		return
	}
	c.state = stateUp
	c.apply(cbInit, &r)
	var reason error // Init asked to close or stop: the start fails with that
	if c.state == stateDone {
		reason = c.endReason(ErrClosed)
	}
	c.upNotified = reason == nil
	if l := c.cfg.Conns; l != nil && c.upNotified && c.proc != nil {
		l.add(c.proc)
	}
	if c.cfg.Owner != nil {
		c.cfg.Owner.ConnUp(c.Info(), reason)
	}
}

func (c *Conn) handshake(sock transport.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Socket.HandshakeTimeout)
	defer cancel()
	return sock.Handshake(ctx)
}

// fail ends a connection whose start failed: Init never ran, so neither
// does Terminate.
func (c *Conn) fail(err error) {
	c.state = stateDone
	c.sock.Close()
	c.closeReader()
	if !errors.Is(err, ErrDeclined) {
		c.Logger().Debug("etcp: connection start failed", "err", err)
	}
	if c.cfg.Owner != nil {
		c.cfg.Owner.ConnUp(c.Info(), err)
	}
	c.ctx.Stop(c.self)
}

// run invokes a callback and applies its Result; a panic ends the connection.
func (c *Conn) run(cb callback, msg any, p []byte) {
	r, err := c.invoke(cb, msg, p, c.from)
	if err != nil {
		c.terminate(err)
		return
	}
	if c.tracer != nil {
		c.traceResult(cb, &r)
	}
	c.apply(cb, &r)
}

// onRead handles what the reader read: bytes, end of stream or an error.
func (c *Conn) onRead(ev *readEvent) {
	if ev.err != nil {
		err := ev.err
		ev.err = nil
		c.onReadError(err)
	} else {
		c.take(ev)
	}
	switch {
	case c.state == stateDone:
	case c.upgrade != nil:
		c.heldRead = true // the reader must not read the handshake: startTLS releases it
	default:
		c.releaseReader()
	}
}

func (c *Conn) onReadError(err error) {
	switch {
	case errors.Is(err, io.EOF):
		r, cerr := c.invoke(cbDisconnect, nil, nil, behaviours.From{})
		if cerr != nil {
			c.terminate(cerr)
			return
		}
		c.apply(cbDisconnect, &r)
		if c.state != stateDone {
			reason, _ := r.StopReason()
			c.terminate(reason)
		}
	case isTimeout(err):
		if c.recvWant && c.recvTimed {
			c.clearRecv()
			c.run(cbReadTimeout, nil, nil)
		}
		// A stale deadline (the read it bounded completed): ignore.
	case c.state == stateDone:
	default:
		c.terminate(err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// onSend writes a packet for client.SendSync / SendAsync.
func (c *Conn) onSend(m *Send) {
	if err := c.queue(m.Data); err != nil {
		c.terminate(err)
		c.ack(err)
		return
	}
	if c.ctx.Sender() == nil {
		return // async: settle flushes, and a write error ends the connection
	}
	err := c.flush()
	c.ack(err)
	if err != nil {
		c.terminate(err)
	}
}

func (c *Conn) onCodeChange(m *CodeChange) {
	h, err := c.invokeCodeChange(m)
	if err == nil && h != nil {
		c.handler = h
	}
	c.ack(err)
}

func (c *Conn) stateSnapshot() any {
	if sr, ok := c.handler.(behaviours.StateReader); ok {
		return sr.State()
	}
	return c.handler
}

// ack answers a request (when it has a sender) with a *Reply.
func (c *Conn) ack(v any) {
	if s := c.ctx.Sender(); s != nil {
		c.sendReply(s, v)
	}
}

func (c *Conn) sendReply(to *actor.PID, v any) {
	reply := &Reply{Value: v}
	if err, ok := v.(error); ok {
		reply = &Reply{Err: err}
	}
	if c.tracer != nil {
		c.trace(TraceEvent{Kind: TraceReplyOut, Message: v})
	}
	c.ctx.Send(to, reply)
}

// terminate ends the connection: Terminate runs once, then the socket
// closes and the owner hears of it.
func (c *Conn) terminate(reason error) {
	if c.state == stateDone {
		return
	}
	c.state = stateDone
	if err := c.flush(); err != nil && reason == nil {
		reason = err
	}
	if c.handler != nil {
		reason = c.invokeTerminate(reason)
	}
	c.stopIdle()
	c.stopHibernateTimer()
	c.closeReader() // before unparking: a reader parking now sees it (park)
	c.unparkForEnd()
	c.sock.Close()
	c.readWanted.Store(false)
	c.releaseBuffers()
	if reason != nil && !errors.Is(reason, ErrShutdown) {
		c.Logger().Debug("etcp: connection ended", "reason", reason)
	}
	c.endErr = reason
	if l := c.cfg.Conns; l != nil && c.upNotified && c.proc != nil {
		l.remove(c.proc)
	}
	if c.cfg.Owner != nil && c.upNotified {
		c.cfg.Owner.ConnDown(c.Info(), reason)
	}
	c.ctx.Stop(c.self)
}

func (c *Conn) endReason(fallback error) error {
	if c.endErr != nil {
		return c.endErr
	}
	return fallback
}

func (c *Conn) ownerStopReason() error {
	if c.cfg.Owner != nil {
		if r := c.cfg.Owner.StopReason(); r != nil {
			return r
		}
	}
	return ErrShutdown
}

// unref drops one of the references held by the actor and the reader;
// the last one out tells the owner's Live group.
func (c *Conn) unref() {
	if c.refs.Add(-1) == 0 && c.cfg.Live != nil {
		c.cfg.Live.Done()
	}
}

// Info describes the connection.
func (c *Conn) Info() ConnInfo {
	return ConnInfo{ID: c.id, PID: c.self, Local: c.sock.LocalAddr(), Peer: c.sock.RemoteAddr(),
		Transport: c.sock.Transport()}
}
