package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// apply carries out a callback's Result, in the order documented on
// [behaviours.Result]. It is the one place Results take effect.
func (c *Conn) apply(cb callback, r *behaviours.Result) {
	if r.HasPackets() {
		if err := r.Packets(c.queue); err != nil {
			c.terminate(err)
			return
		}
	}
	if v, ok := r.ReplyValue(); ok {
		if cb != cbCall {
			c.terminate(invalid(cb, "Reply outside HandleCall (use ReplyTo)"))
			return
		}
		c.sendReply(c.from.PID(), v)
	}
	r.DeferredReplies(func(to behaviours.From, v any) {
		if to.Valid() {
			c.sendReply(to.PID(), v)
		}
	})
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
		if cb != cbPacket && c.readerOn.Load() {
			c.terminate(invalid(cb, "StartTLS while a read is outstanding (use it from HandlePacket, or in passive mode with no Recv asked)"))
			return
		}
		c.upgrade = cfg
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

// canUpgrade reports whether a StartTLS can start now: no read is in
// flight that could take the handshake's bytes (a read that lands first
// is held by onRead, its bytes fed to the handshake).
func (c *Conn) canUpgrade() bool {
	return c.upgrade != nil && (c.heldRead || !c.readerOn.Load())
}

// setMode switches between active and passive mode.
func (c *Conn) setMode(active bool, n int) {
	if !active {
		c.passive = true
	} else {
		c.passive, c.activeN = false, max(n, 0)
		c.clearRecv()
	}
	c.updateParkable()
}

// requestRecv records a passive read; settle starts the reader if the
// buffered bytes do not already satisfy it.
func (c *Conn) requestRecv(n int, timeout time.Duration) error {
	if !c.passive {
		return errors.New("a Recv in active mode")
	}
	if n < 0 || n > c.cfg.Socket.MaxFrame {
		return fmt.Errorf("a Recv of %d bytes: %w (max %d)", n, transport.ErrFrameTooLarge, c.cfg.Socket.MaxFrame)
	}
	c.recvWant, c.recvN = true, n
	c.recvTimed = timeout > 0
	if c.recvTimed {
		c.setReadDeadline(time.Now().Add(timeout))
	}
	return nil
}

func (c *Conn) clearRecv() {
	if c.recvTimed {
		c.setReadDeadline(time.Time{})
	}
	c.recvWant, c.recvTimed, c.recvN = false, false, 0
}

// setReadDeadline sets a passive read's deadline (actor only).
func (c *Conn) setReadDeadline(t time.Time) {
	c.dlMu.Lock()
	c.sock.SetReadDeadline(t)
	c.dlMu.Unlock()
}

// settle runs after every message while the connection is up: it starts
// a pending StartTLS, delivers buffered frames the handler now wants,
// flushes writes, steers the reader and re-arms the idle timeout.
func (c *Conn) settle() {
	if c.canUpgrade() {
		c.startTLS()
		if c.state != stateUp {
			return
		}
	}
	if len(c.pending) > 0 && c.wants() {
		c.pending = c.keep(c.consume(c.pending), c.pending)
		if c.state != stateUp {
			return
		}
		if c.canUpgrade() { // StartTLS from a buffered frame
			c.startTLS()
			if c.state != stateUp {
				return
			}
		}
	}
	if err := c.flush(); err != nil {
		c.terminate(err)
		return
	}
	if c.wants() || c.upgrade != nil { // a deferred StartTLS reads the handshake's first bytes
		if !c.readWanted.Load() || !c.readerOn.Load() {
			c.startReading()
		}
	} else if c.readWanted.Load() {
		c.readWanted.Store(false)
	}
	c.armIdle()
	c.armHibernateTimer()
	if c.hibernateNext {
		c.hibernateNext = false
		c.hibernate()
	}
}
