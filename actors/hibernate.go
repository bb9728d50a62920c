package actors

import "time"

// Hibernation: a connection that asks for it (Result.Hibernate), or that
// has been idle Config.IdleHibernate, gives back what it can while it
// waits: its write buffer, any slack in a partial frame's buffer, its
// timers, and its reader goroutine, which parks on the shared poller
// (park.go). Once its mailbox is empty and its reader parked, it
// passivates (passivate.go): the actor itself goes, leaving a small
// record under the same PID that any message, bytes or a close wake.
//
// TLS connections cannot park their reader (crypto/tls may already hold
// received records that socket readiness would never announce) nor be
// rebuilt from a descriptor. They give back everything else and keep
// their actor and reader goroutine.

// hibernateFire is posted by the idle-hibernate timer.
type hibernateFire struct{}

var hibernateTick = &hibernateFire{}

// nudge is posted by a reader that parked because its connection
// hibernates: the mailbox's next turn may passivate it.
type nudge struct{}

var passivateNudge = &nudge{}

func (c *Conn) hibernate() {
	if c.out != nil {
		c.releaseOut()
	}
	switch {
	case len(c.pending) == 0:
		c.pending = nil
	case cap(c.pending) > len(c.pending):
		c.pending = append([]byte(nil), c.pending...)
	}
	c.hibernated = true
	c.stopIdle() // no timeout fires while hibernated
	c.stopHibernateTimer()
	c.kickReader()
}

// wake ends hibernation when anything reaches the actor.
func (c *Conn) wake() {
	c.hibernated = false
	if c.idle > 0 {
		c.lastArrival = time.Since(epoch)
		c.resetTimer(c.idle)
	}
	if c.cfg.IdleHibernate > 0 {
		c.lastArrival = time.Since(epoch)
	}
}

// armHibernateTimer keeps the idle-hibernate timer running (lazily: it is
// reset only when it fires, see onHibernateTimer).
func (c *Conn) armHibernateTimer() {
	d := c.cfg.IdleHibernate
	if d <= 0 || c.hibernated || c.hibTimer != nil {
		return
	}
	c.hibTimer = time.AfterFunc(d, func() { c.mb.PostUserMessage(hibernateTick) })
}

func (c *Conn) onHibernateTimer() {
	c.hibTimer = nil
	if c.hibernated {
		return
	}
	if rest := c.cfg.IdleHibernate - (time.Since(epoch) - c.lastArrival); rest > 0 {
		c.hibTimer = time.AfterFunc(rest, func() { c.mb.PostUserMessage(hibernateTick) })
		return
	}
	c.hibernateNext = true
}

func (c *Conn) stopHibernateTimer() {
	if c.hibTimer != nil {
		c.hibTimer.Stop()
		c.hibTimer = nil
	}
}
