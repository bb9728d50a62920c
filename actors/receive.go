package actors

import (
	"errors"
	"io"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
)

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
		c.tracer = nil // the switch's own reply is no event of the connection's
		c.ack(nil)
		c.tracer = m.Tracer
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
