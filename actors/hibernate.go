package actors

import "time"

// Hibernation: a connection that asks for it (Result.Hibernate), or that
// has been idle IdleHibernate, gives back what it can while it waits: its
// write buffer, any slack in a partial frame's buffer, its timers, and its
// reader goroutine, which is kicked to park on the shared poller
// (stKickPark in state.go). Once its mailbox is empty and its reader
// parked, it passivates (passivate.go): the actor itself goes, leaving a
// small record under the same PID that any message, bytes or a close
// wake.
//
// TLS connections cannot park their reader (crypto/tls may already hold
// received records that socket readiness would never announce) nor be
// rebuilt from a descriptor. They give back everything else and keep
// their actor and reader goroutine.

// hibernateFire is posted by the idle-hibernate timer.
type hibernateFire struct{}

var hibernateTick = &hibernateFire{}

// nudge is posted by a reader that parked because its connection
// hibernates, or stopped because the actor asked: the mailbox's next turn
// may passivate it or start a StartTLS.
type nudge struct{}

var passivateNudge = &nudge{}

// nudge tells the actor its reader parked or stopped (reader). A nudge
// that finds the mailbox retired waits for the passivation under way to
// finish: if it gave up, the nudge is posted again; if it went ahead,
// nothing is left to nudge.
func (c *conn) nudge() {
	for !c.mb.postNudge() {
		p := c.proc
		p.mu.Lock()
		live := p.mb.Load() == &c.mb
		p.mu.Unlock()
		if !live {
			return
		}
	}
}

func (c *conn) hibernate() {
	if c.out != nil {
		c.releaseOut()
	}
	switch {
	case len(c.pending) == 0:
		c.pending = nil
	case cap(c.pending) > len(c.pending):
		c.pending = append([]byte(nil), c.pending...)
	}
	if !c.hibernated {
		c.hibernated = true
		c.proc.hibernated.Store(true)
		c.g.hibernated.Add(1)
	}
	c.stopIdle() // no timeout fires while hibernated
	c.stopHibernateTimer()
	c.kickPark()
}

// wake ends hibernation when anything reaches the actor.
func (c *conn) wake() {
	c.hibernated = false
	c.proc.hibernated.Store(false)
	c.g.hibernated.Add(-1)
	if c.idle > 0 {
		c.lastArrival = time.Since(epoch)
		c.resetTimer(c.idle)
	}
	if c.g.idleHibernate > 0 {
		c.lastArrival = time.Since(epoch)
	}
}

// armHibernateTimer keeps the idle-hibernate timer running (lazily: it is
// reset only when it fires, see onHibernateTimer).
func (c *conn) armHibernateTimer() {
	d := c.g.idleHibernate
	if d <= 0 || c.hibernated || c.hibTimer != nil {
		return
	}
	c.hibTimer = time.AfterFunc(d, func() { c.mb.PostUserMessage(hibernateTick) })
}

func (c *conn) onHibernateTimer() {
	c.hibTimer = nil
	if c.hibernated {
		return
	}
	if rest := c.g.idleHibernate - (time.Since(epoch) - c.lastArrival); rest > 0 {
		c.hibTimer = time.AfterFunc(rest, func() { c.mb.PostUserMessage(hibernateTick) })
		return
	}
	c.hibernateNext = true
}

func (c *conn) stopHibernateTimer() {
	if c.hibTimer != nil {
		c.hibTimer.Stop()
		c.hibTimer = nil
	}
}
