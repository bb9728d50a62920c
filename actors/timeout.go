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
func (c *conn) arrived() { c.arrivedAt(0) }

// arrivedAt is arrived for a message that arrived at now (0: read the
// clock if needed).
func (c *conn) arrivedAt(now time.Duration) {
	if c.idle >= 0 {
		c.idleGen++
	}
	if c.idle > 0 || c.g.idleHibernate > 0 {
		if now == 0 {
			now = time.Since(epoch)
		}
		c.lastArrival = now
	}
}

// setIdle changes the timeout (Never clears it).
func (c *conn) setIdle(d time.Duration) {
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
func (c *conn) armIdle() {
	if c.idle == 0 && c.mb.UserMessageCount() == 0 {
		c.mb.PostUserMessage(&idleFire{gen: c.idleGen})
	}
}

func (c *conn) resetTimer(d time.Duration) {
	if c.idleTimer == nil {
		c.idleTimer = time.AfterFunc(d, func() { c.mb.PostUserMessage(timerFire) })
		return
	}
	c.idleTimer.Reset(d)
}

func (c *conn) stopIdle() {
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
}

// onIdle handles a timer fire or a Timeout(0) message.
func (c *conn) onIdle(m *idleFire) {
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
	if c.life == lifeUp && c.idle > 0 {
		// Nothing arrived: the timeout fires again d from now.
		c.lastArrival = time.Since(epoch)
		c.resetTimer(c.idle)
	}
}

// The passive read timeout (etcp's srtimeout) is a timer of the actor's,
// like the idle timeout: it does not depend on where the reader is
// (reading, parked on the poller, or stopped), and it never touches the
// socket's read deadline, which belongs to the reader.

// recvFire is posted by the passive read timer.
type recvFire struct{}

var recvTick = &recvFire{}

// armRecvTimer starts the timeout of the Recv just asked for.
func (c *conn) armRecvTimer(d time.Duration) {
	c.recvDeadline = time.Since(epoch) + d
	if c.recvTimer == nil {
		c.recvTimer = time.AfterFunc(d, func() { c.mb.PostUserMessage(recvTick) })
		return
	}
	c.recvTimer.Reset(d)
}

// onRecvTimer runs SocketReadTimeout if the Recv it bounds is still
// waiting; a fire left over from an earlier Recv re-arms for the rest.
func (c *conn) onRecvTimer() {
	if !c.recvTimed {
		return
	}
	if rest := c.recvDeadline - time.Since(epoch); rest > 0 {
		c.recvTimer.Reset(rest)
		return
	}
	c.clearRecv()
	c.run(cbReadTimeout, nil, nil)
}

// stopTimers stops every timer of the connection as it ends.
func (c *conn) stopTimers() {
	c.stopIdle()
	c.stopHibernateTimer()
	if c.recvTimer != nil {
		c.recvTimer.Stop()
	}
}
