package actors

import (
	"fmt"
	"sync"
	"time"
)

// The idle timeout (ConnOptions.IdleTimeout) closes a connection that
// received no complete frame for a while, whatever its handler does.
// Delivering a frame stores the time in the connection's process (one
// store per frame, which the statistics report too); one timer per group walks
// its connections every quarter of the timeout, and tells those past it
// to end, passivated ones included (the message wakes them). The timer
// runs only while the group has connections (starting ones included), so
// an idle owner holds nothing.

// sweeper is a group's idle-timeout timer.
type sweeper struct {
	mu      sync.Mutex
	timer   *time.Timer
	running bool
}

// idleExpired tells a connection it is past its idle timeout.
type idleExpired struct{}

var idleExpiry = &idleExpired{}

// arm starts the group's sweep if it is off (a connection joined).
func (g *group) armSweep() {
	if g.idleTimeout <= 0 {
		return
	}
	g.sweep.mu.Lock()
	defer g.sweep.mu.Unlock()
	if g.sweep.running || g.stopping.Load() {
		return
	}
	g.sweep.running = true
	if g.sweep.timer == nil {
		g.sweep.timer = time.AfterFunc(g.idleTimeout/4, g.sweepIdle)
	} else {
		g.sweep.timer.Reset(g.idleTimeout / 4)
	}
}

// sweepIdle tells the connections past the idle timeout to end, and
// looks again a quarter of it later while any connection is left. Every
// connection of the list keeps the sweep going, those still starting (a
// handshake or an Init slower than the timeout) included: nothing arms
// it again when they come up. Only those that are up can expire.
func (g *group) sweepIdle() {
	now := time.Since(epoch)
	var expired []*process
	n := 0
	g.conns.each(func(p *process) {
		n++
		if !p.st.load().up() {
			return
		}
		if now-time.Duration(p.lastFrame.Load()) >= g.idleTimeout {
			expired = append(expired, p)
		}
	})
	for _, p := range expired {
		p.post(idleExpiry, false)
	}
	g.sweep.mu.Lock()
	defer g.sweep.mu.Unlock()
	if n == 0 || g.stopping.Load() {
		g.sweep.running = false
		return
	}
	g.sweep.timer.Reset(g.idleTimeout / 4)
}

// stopSweep stops the sweep as the group's owner stops.
func (g *group) stopSweep() {
	g.sweep.mu.Lock()
	defer g.sweep.mu.Unlock()
	if g.sweep.timer != nil {
		g.sweep.timer.Stop()
	}
	g.sweep.running = false
}

// frameArrived notes when a complete frame arrived, for the idle timeout
// and the connection's statistics.
func (c *conn) frameArrived(now time.Duration) { c.proc.lastFrame.Store(int64(now)) }

// onIdleExpired ends the connection if no frame came since the sweep saw
// it idle.
func (c *conn) onIdleExpired() {
	idle := time.Since(epoch) - time.Duration(c.proc.lastFrame.Load())
	if idle >= c.g.idleTimeout {
		c.terminate(fmt.Errorf("%w: none for %v", ErrIdleTimeout, idle.Truncate(time.Millisecond)))
	}
}
