package actors

import (
	"time"

	"github.com/etcp-go/etcp/behaviours"
)

// The idle timeout (etcp's timeout callback) is one lazily armed timer per
// connection that has asked for one. Arrivals only record the time; when
// the timer fires, the actor checks how long it has really been idle and
// either runs Timeout or re-arms for the rest. So a busy connection never
// touches its timer, and a timeout that stays set fires every d while
// nothing arrives. protoactor's ReceiveTimeout is not used: its
// cancellation runs on the timer goroutine and races with the actor.

// idleFire is posted by the idle timer; gen tells a Timeout(0) message
// from stale ones.
type idleFire struct{ gen uint64 }

var timerFire = &idleFire{}

// arrived notes that a message or packet arrived.
func (c *Conn) arrived() {
	if c.idle >= 0 {
		c.idleGen++
	}
	if c.idle > 0 || c.cfg.IdleHibernate > 0 {
		c.lastArrival = time.Since(epoch)
	}
}

// setIdle changes the timeout (Never clears it).
func (c *Conn) setIdle(d time.Duration) {
	c.idle = d
	if d < 0 {
		c.stopIdle()
		return
	}
	c.idleGen++
	c.lastArrival = time.Since(epoch)
	if d > 0 {
		c.resetTimer(d)
	}
}

// armIdle runs after each message: a Timeout(0) fires once the mailbox
// is empty, then clears itself.
func (c *Conn) armIdle() {
	if c.idle == 0 && c.mb.UserMessageCount() == 0 {
		c.mb.PostUserMessage(&idleFire{gen: c.idleGen})
	}
}

func (c *Conn) resetTimer(d time.Duration) {
	if c.idleTimer == nil {
		c.idleTimer = time.AfterFunc(d, func() { c.mb.PostUserMessage(timerFire) })
		return
	}
	c.idleTimer.Reset(d)
}

func (c *Conn) stopIdle() {
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
}

// onIdle handles a timer fire or a Timeout(0) message.
func (c *Conn) onIdle(m *idleFire) {
	switch {
	case c.idle < 0:
		return
	case c.idle == 0:
		if m == timerFire || m.gen != c.idleGen {
			return
		}
		// Timeout(0) fires once; the handler asks again to repeat it.
		c.idle = behaviours.Never
	default:
		if m != timerFire {
			return
		}
		if rest := c.idle - (time.Since(epoch) - c.lastArrival); rest > 0 {
			c.resetTimer(rest)
			return
		}
	}
	c.run(cbTimeout, nil, nil)
	if c.state == stateUp && c.idle > 0 {
		// Nothing arrived: the timeout fires again d from now.
		c.lastArrival = time.Since(epoch)
		c.resetTimer(c.idle)
	}
}
