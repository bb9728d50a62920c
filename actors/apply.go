package actors

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// apply carries out a callback's Result, in the order documented on
// [behaviours.Result]. It is the one place Results take effect.
func (c *conn) apply(cb callback, r *behaviours.Result) {
	if r.HasPackets() {
		if err := r.Packets(c.queue); err != nil {
			c.terminate(err)
			return
		}
	}
	v, replying := r.ReplyValue()
	if replying && cb != cbCall {
		c.terminate(invalid(cb, "Reply outside HandleCall (use ReplyTo)"))
		return
	}
	if replying || r.HasDeferredReplies() {
		// A reply never precedes the packets queued before it (etcp
		// applies a return's options in order): it goes once the socket
		// has taken them, and a failed write is what the callers hear.
		c.replyAll(r, replying, v)
	}
	if r.Declined() {
		c.terminate(invalid(cb, "Decline outside Init"))
		return
	}
	if d, ok := r.TimeoutValue(); ok {
		c.setIdle(d)
	}
	if active, n, ok := r.ModeChange(); ok {
		c.setMode(active, n)
	}
	if n, timeout, ok := r.RecvRequest(); ok {
		if err := c.requestRecv(n, timeout); err != nil {
			c.terminate(invalid(cb, "%v", err))
			return
		}
	}
	if cfg, ok := r.TLSUpgrade(); ok {
		if cfg == nil {
			c.terminate(invalid(cb, "StartTLS with a nil config"))
			return
		}
		c.upgrade = cfg
	}
	if !c.applyHalfClose(cb, r) { // halfclose.go
		return
	}
	if reason, ok := r.StopReason(); ok {
		c.terminate(reason)
		return
	}
	if r.Closing() {
		c.terminate(nil)
		return
	}
	if r.Hibernating() {
		c.hibernateNext = true
	}
}

// replyAll sends the Result's replies, the current call's (if replying)
// and the deferred ones, each once the packets queued before it are
// written.
func (c *conn) replyAll(r *behaviours.Result, replying bool, v any) {
	if replying {
		c.replyAfter(c.from.PID(), v)
	}
	r.DeferredReplies(func(to *actor.PID, dv any) {
		if to != nil {
			c.replyAfter(to, dv)
		}
	})
}

// setMode switches between active and passive mode.
func (c *conn) setMode(active bool, n int) {
	if !active {
		c.passive = true
	} else {
		c.passive, c.activeN = false, int32(min(max(n, 0), math.MaxInt32))
		c.clearRecv()
	}
	c.proc.passive.Store(c.passive)
}

// requestRecv records a passive read; settle starts the reader if the
// buffered bytes do not already satisfy it.
func (c *conn) requestRecv(n int, timeout time.Duration) error {
	if !c.passive {
		return errors.New("a Recv in active mode")
	}
	if n < 0 || n > c.g.socket.MaxFrame || n > math.MaxInt32 {
		return fmt.Errorf("a Recv of %d bytes: %w (max %d)", n, transport.ErrFrameTooLarge, c.g.socket.MaxFrame)
	}
	c.recvWant, c.recvN = true, int32(n)
	c.recvTimed = timeout > 0
	if c.recvTimed {
		c.armRecvTimer(timeout)
	}
	return nil
}

func (c *conn) clearRecv() {
	if c.recvTimed && c.recvTimer != nil {
		c.recvTimer.Stop()
	}
	c.recvWant, c.recvTimed, c.recvN = false, false, 0
}

// settle runs after every message while the connection is up: it starts
// a pending StartTLS once the reader has let go of the socket and the
// backlog is written, delivers buffered frames the handler now takes,
// flushes writes, starts the reader if bytes are taken and none runs,
// re-arms the idle timeout and hibernates if asked.
func (c *conn) settle() {
	if c.upgrade != nil && c.readyForTLS() {
		c.startTLS()
		if c.life != lifeUp {
			return
		}
	}
	if len(c.pending) > 0 && c.takes() {
		c.pending = c.keep(c.consume(c.pending), c.pending)
		if c.life != lifeUp {
			return
		}
		if c.upgrade != nil && c.readyForTLS() { // StartTLS from a buffered frame
			c.startTLS()
			if c.life != lifeUp {
				return
			}
		}
	}
	if err := c.flush(); err != nil {
		c.terminate(err)
		return
	}
	if c.takes() && c.upgrade == nil {
		c.startReading()
	}
	c.armIdle()
	c.armHibernateTimer()
	if c.hibernateNext {
		c.hibernateNext = false
		c.hibernate()
	}
}
