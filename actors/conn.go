package actors

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// life is where the connection's actor is in its own life. Only the
// actor reads or writes it; what other goroutines see is the state word
// (state.go).
type life uint8

const (
	lifeStarting life = iota // spawned: the handshake and Init have not run
	lifeUp                   // Init accepted the connection
	lifeDone                 // Terminate ran (or the start failed); the socket is closed
)

// conn is the actor that owns one socket: server, client and pool
// connections are all this actor. Socket reads arrive in its mailbox
// (posted inline by its reader, see reader.go), as do calls, casts,
// events and anything else; it runs the handler's callbacks one at a
// time and applies the Results they return (apply.go). Which goroutine
// may touch which field is set by the connection's state (state.go and
// the package doc); unmarked fields are the actor's.
//
// conn also implements [behaviours.Conn], the metadata every callback
// sees.
type conn struct {
	mb       mailbox // first: the hot fields sit together
	g        *Group
	proc     *process // its registry entry and state word; outlives passivation
	sock     transport.Conn
	raw      syscall.RawConn // set when reads can park without a buffer
	readFn   func(uintptr) bool
	handler  behaviours.Handler
	ctx      actor.Context
	self     *actor.PID
	notify   *actor.PID // hears ConnUp and (unless upOnly) ConnDown; nil for none
	names    []string   // names the handler registered (see register.go)
	id       uint64
	ev       readEvent     // the read in flight: the reader's until posted, then the actor's
	consumed chan struct{} // made by the reader before it first waits (stWaiting)
	pending  []byte        // bytes read but not yet delivered
	activeN  int32         // frames left before turning passive; 0 = no limit
	recvN    int32
	scan     transport.ScanState
	upgrade  *tls.Config // a StartTLS waiting for the reader to stop
	refs     atomic.Int32

	// The write side (write.go, flusher.go): the actor's buffer for this
	// turn, the part of it already counted in the write queue (Sends),
	// and the outbox, made by the first backlog or reply that waits for
	// its bytes.
	out       *[]byte
	outCredit int
	ob        *outbox

	// The reader's own (reader.go, state.go): it arms the idle deadline.
	readsSinceArm uint8 // saturates: only whether reads came matters
	deadlineArmed bool
	parkShift     uint8         // the idle deadline is ParkAfter << parkShift (see armDeadline)
	watching      bool          // the event loop: its watch (pollKey) is registered; the reader's, or the actor's once it took the registration back
	readerGen     atomic.Uint32 // bumped when a posted read is released to idle: its reader is done (awaitRelease)
	pollKey       atomic.Uint64 // the reader's registration (a poll.Key): written before stParked; the actor reads it through parkedKey

	// The idle timeout, the passive read timeout (timeout.go) and
	// hibernation (hibernate.go).
	idle         time.Duration // < 0: none
	lastArrival  time.Duration // as time.Since(epoch)
	idleGen      uint64
	idleTimer    *time.Timer
	recvDeadline time.Duration // as time.Since(epoch), while recvTimed
	recvTimer    *time.Timer
	hibTimer     *time.Timer

	from   behaviours.From // the call being handled
	endErr error           // the reason the connection ended with
	tracer Tracer
	log    *slog.Logger

	life           life
	accepted       bool // server side: StartTLS acts as a TLS server
	passive        bool
	recvWant       bool
	recvTimed      bool
	hibernated     bool
	hibernateNext  bool
	upNotified     bool // the owner heard ConnUp(nil), so it hears ConnDown
	upOnly         bool // notify hears ConnUp only (a client's start)
	resumed        bool // re-spawned after a passivation: Init ran before
	watched        bool // someone watches the actor: it never passivates
	toldOver       bool // the handler heard Writability false and not yet true
	noBackPressure bool // the handler turned back-pressure off (SetBackPressure)
	inRead         bool // in the turn of a posted read (receiveRead), whose bytes are taken
	onLoop         bool // the turn runs on the shared poller's goroutine (eventloop.go); the mailbox's runner's
	drained        bool // the event loop: the last read came short, so a new edge announces new bytes (the reader's)
}

// newConn prepares the actor for a connected socket.
func newConn(g *Group, sock transport.Conn, id uint64, accepted bool, notify *actor.PID, upOnly bool) *conn {
	c := &conn{g: g, id: id, accepted: accepted, notify: notify, upOnly: upOnly, passive: g.socket.Passive,
		noBackPressure: g.writeQueue.NoBackPressure, idle: behaviours.Never, tracer: g.tracer,
		proc: &process{id: id, g: g}}
	c.proc.passive.Store(c.passive)
	c.mb.conn = c
	c.useSocket(sock)
	c.refs.Store(1)
	g.live.Add(1)
	g.conns.add(c.proc)
	if g.metrics != nil {
		g.metrics.track(g)
	}
	g.armSweep()
	return c
}

// props returns Props that spawn c (one spawn only).
func (c *conn) props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return c },
		actor.WithMailbox(c.mailbox), actor.WithSpawnFunc(c.spawn))
}

func (c *conn) mailbox() actor.Mailbox { return &c.mb }

// abandon releases a conn that was never spawned: it closes the socket.
func (c *conn) abandon() {
	c.sock.Close()
	c.g.ended(c.proc)
	c.unref()
}

// useSocket switches the connection to sock, choosing how it is read
// (actor only, while it owns the socket's read side).
func (c *conn) useSocket(sock transport.Conn) {
	c.sock, c.raw = sock, nil
	if sc, ok := sock.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.raw = rc
			if c.readFn == nil {
				c.readFn = c.rawRead
			}
		}
	}
}

// Receive is the actor's behaviour: it routes every message to a callback.
func (c *conn) Receive(ctx actor.Context) {
	c.ctx = ctx
	msg := ctx.Message()
	if err := admitRemote(ctx, msg); err != nil {
		c.ack(err)
		return
	}
	if local, wire, err := fromWire(msg); wire {
		if err != nil { // a payload type this node does not know
			c.ack(err)
			return
		}
		msg = local
	}
	if c.life == lifeDone {
		c.receiveAfterEnd(msg)
		return
	}
	if c.tracer != nil {
		c.traceMessage(msg)
	}
	if c.hibernated && msg != timerFire && msg != hibernateTick && msg != passivateNudge && msg != writeNoticeMsg {
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
		if ctx.Sender() == nil { // sent, not requested: no one to reply to
			c.Logger().Error("etcp: refused a Call with no sender: nobody to reply to, HandleCall not run (send a Call as a request)")
			break
		}
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
	case *recvFire:
		c.onRecvTimer()
	case *writeNotice:
		c.onWriteNotice()
	case *idleExpired:
		c.onIdleExpired()
	case *hibernateFire:
		c.onHibernateTimer()
	case *nudge:
	case *Stop:
		c.terminate(m.Reason)
		c.ack(nil)
	case *actor.Stopping:
		c.terminate(c.g.ownerStopReason())
	case *actor.Stopped, *actor.Restarting, *actor.ReceiveTimeout, *actor.Terminated:
	case *CodeChange:
		c.onCodeChange(m)
	case *GetState:
		c.ack(c.stateSnapshot())
	case *SetTrace:
		c.tracer = m.Tracer
		c.ack(nil)
	case *Info:
		c.ack(c.info())
	case *Hibernate:
		c.hibernateNext = true
		c.ack(nil)
	default:
		c.arrived()
		c.run(cbInfo, msg, nil)
	}
	if c.life == lifeUp {
		c.settle()
	}
}

// receiveRead handles what the reader posted, in the mailbox's turn (see
// mailbox.drain); c.ctx is the context of the actor's earlier messages.
// The turn ends by handing the socket back to the reader, or not (see
// nextRead).
func (c *conn) receiveRead(ev *readEvent) {
	if c.life != lifeUp {
		return // ended while the read was queued: the reader has been told
	}
	if c.hibernated {
		c.wake()
	}
	c.inRead = true // the posted read's bytes are taken (stopReader)
	c.onRead(ev)    // each whole frame counts as an arrival (deliver), a partial one does not
	if c.life == lifeUp {
		c.settle()
	}
	c.inRead = false
	if c.life == lifeUp {
		c.releaseRead(c.nextRead())
	}
}

// receiveAfterEnd answers what reaches a connection that has ended.
func (c *conn) receiveAfterEnd(msg any) {
	switch msg.(type) {
	case *actor.Stopped:
		c.mb.closeTo(c.ctx.ActorSystem().Root)
		c.proc.end()
		c.g.ended(c.proc)
		c.unref()
	case *Stop:
		c.ack(nil) // stopping a stopped connection succeeds
	case *Call, *Send, *CodeChange, *GetState, *SetTrace, *Info, *Hibernate:
		c.ack(errConnClosed)
	}
}

// start runs on Started: the transport handshake, then Init.
func (c *conn) start() {
	if err := c.handshake(c.sock); err != nil {
		c.fail(err)
		return
	}
	c.handler = c.g.factory()
	if c.handler == nil {
		c.fail(errors.New("etcp: handler factory returned nil"))
		return
	}
	r, err := c.invoke(cbInit, c.g.arg, nil, behaviours.From{})
	if err == nil && r.Declined() {
		c.fail(ErrDeclined)
		return
	}
	// From here Terminate runs once, whatever ends the connection, a
	// panic in Init included.
	c.life = lifeUp
	c.up()
	c.frameArrived(time.Since(epoch)) // the idle timeout counts from the start
	c.registerSelf()
	if err != nil {
		c.terminate(err)
	} else {
		c.apply(cbInit, &r)
	}
	var reason error // Init panicked or asked to close or stop: the start fails with that
	if c.life == lifeDone {
		reason = c.endReason(errConnClosed)
	}
	c.upNotified = reason == nil
	if c.notify != nil {
		c.tell(&ConnUp{Info: c.info(), Err: reason})
	}
	if c.upOnly {
		c.notify = nil
	}
}

// handshake runs the transport's handshake, bounded by HandshakeTimeout;
// a transport whose connections have none (TCP, Unix) costs nothing here.
func (c *conn) handshake(sock transport.Conn) error {
	if transport.Plain(sock) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.g.socket.HandshakeTimeout)
	defer cancel()
	err := sock.Handshake(ctx)
	if err != nil {
		c.g.handshakeFailed()
	}
	return err
}

// fail ends a connection whose start failed before Init ran, or whose
// Init declined it (etcp's ignore): Terminate does not run.
func (c *conn) fail(err error) {
	c.life = lifeDone
	c.closeRead()
	c.sock.Close()
	if !errors.Is(err, ErrDeclined) && c.logs(slog.LevelDebug) {
		c.Logger().Debug("etcp: connection start failed", "err", err)
	}
	if c.notify != nil {
		c.tell(&ConnUp{Info: c.info(), Err: err})
	}
	c.stopSelf()
}

// stopSelf stops the actor. ctx.Stop would look its PID up, and the
// look-up caches the process in the PID, an allocation; the connection's
// own process is at hand, and a stop through it is the same message to
// the same mailbox. With protoactor's metrics on, ctx.Stop counts the
// stop, so it is used then.
func (c *conn) stopSelf() {
	if c.ctx.ActorSystem().Config.MetricsProvider != nil {
		c.ctx.Stop(c.self)
		return
	}
	c.proc.Stop(c.self)
}

// tell sends msg to the actor that hears of the connection, if any.
func (c *conn) tell(msg any) {
	if c.notify != nil {
		c.ctx.Send(c.notify, msg)
	}
}

// run invokes a callback and applies its Result; a panic ends the connection.
func (c *conn) run(cb callback, msg any, p []byte) {
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
func (c *conn) onRead(ev *readEvent) {
	if ev.err == nil {
		c.take(ev)
		return
	}
	err := ev.err
	ev.err = nil
	if !errors.Is(err, io.EOF) {
		c.terminate(err)
		return
	}
	c.onPeerClosed() // halfclose.go
}

// reset makes the socket's close a reset (linger 0), so the peer sees
// ECONNRESET rather than a clean end of stream.
func reset(sock any) {
	switch s := sock.(type) {
	case interface{ SetLinger(int) error }:
		_ = s.SetLinger(0)
	case interface{ NetConn() net.Conn }:
		reset(s.NetConn())
	}
}

// isTimeout reports whether err is a deadline's. The common case, Go's
// own deadline error, is found without errors.As, which allocates: the
// reader meets it every ParkAfter on a busy connection.
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// onSend queues a packet for client.SendSync / SendAsync; a SendSync
// hears back once the socket has taken it. Its bytes were counted in the
// write queue as it was posted (process.admit).
func (c *conn) onSend(m *Send) {
	if err := c.queue(m.Data); err != nil {
		c.proc.addQueued(-len(m.Data))
		c.terminate(err)
		c.ack(err)
		return
	}
	c.outCredit += len(m.Data)
	c.replyAfter(c.ctx.Sender(), nil) // a SendSync's: once the socket took it
}

// onOverflow ends the connection when a send or a message was refused
// past a cap, warning once.
func (c *conn) onOverflow(err error) {
	if c.life == lifeDone {
		return
	}
	queued := int64(0)
	if wq := c.proc.wq.Load(); wq != nil {
		queued = wq.bytes.Load()
	}
	c.Logger().Warn("etcp: connection ends: sent more than it can hold", "conn", c.id,
		"queued_bytes", queued, "max_bytes", c.g.writeQueue.Max, "mailbox", c.mb.UserMessageCount(),
		"mailbox_limit", c.g.mailboxLimit, "err", err)
	c.terminate(err)
}

func (c *conn) onCodeChange(m *CodeChange) {
	h, err := c.invokeCodeChange(m)
	if err == nil && h != nil {
		c.handler = h
	}
	c.ack(err)
}

func (c *conn) stateSnapshot() any {
	if sr, ok := c.handler.(behaviours.StateReader); ok {
		return sr.State()
	}
	return c.handler
}

// ack answers a request (when it has a sender) with a *Reply.
func (c *conn) ack(v any) {
	if s := c.ctx.Sender(); s != nil {
		c.sendReply(s, v)
	}
}

func (c *conn) sendReply(to *actor.PID, v any) {
	if c.tracer != nil {
		c.trace(TraceEvent{Kind: TraceReplyOut, Message: v})
	}
	if remote(c.ctx.ActorSystem(), to) {
		c.ctx.Send(to, replyToWire(v))
		return
	}
	c.ctx.Send(to, newReply(v))
}

// terminate ends the connection: Terminate runs once, then the socket
// closes (at once, or once its queued bytes are delivered: endWrite) and
// the owner hears of it.
func (c *conn) terminate(reason error) {
	if c.life == lifeDone {
		return
	}
	c.life = lifeDone
	end := c.endOf(reason) // from why it ends, whatever Terminate makes of the reason
	if end != endNow {
		if err := c.flush(); err != nil && reason == nil {
			reason, end = err, endNow
		}
	}
	if c.g.forced.Load() && isTimeout(reason) {
		reason = c.g.ownerStopReason() // its owner interrupted a blocked socket
	}
	if c.handler != nil {
		reason = c.invokeTerminate(reason)
		end = max(end, c.endOf(reason)) // Terminate may not soften the end; its own panic is an error end
	}
	c.stopTimers()
	if c.hibernated {
		c.hibernated = false
		c.g.hibernated.Add(-1)
	}
	c.closeRead()
	if wq := c.proc.wq.Load(); wq != nil {
		wq.release(true)
	}
	c.endWrite(end, reason)
	c.releaseBuffers()
	if reason != nil && !errors.Is(reason, ErrShutdown) && c.logs(slog.LevelDebug) {
		c.Logger().Debug("etcp: connection ended", "reason", reason)
	}
	c.endErr = reason
	c.unregisterAll()
	if c.upNotified {
		if c.notify != nil && !c.g.stopping.Load() {
			c.tell(&ConnDown{Info: c.info(), Reason: reason})
		}
	}
	c.stopSelf()
}

func (c *conn) endReason(fallback error) error {
	if c.endErr != nil {
		return c.endErr
	}
	return fallback
}

// unref drops one of the references held by the actor and the reader;
// the last one out tells the group.
func (c *conn) unref() {
	if c.refs.Add(-1) == 0 {
		c.g.live.Done()
	}
}

// info describes the connection.
func (c *conn) info() ConnInfo {
	return ConnInfo{ID: c.id, PID: c.self, Local: c.sock.LocalAddr(), Peer: c.sock.RemoteAddr(),
		Transport: c.sock.Transport()}
}
