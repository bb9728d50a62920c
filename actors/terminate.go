package actors

import (
	"errors"
	"log/slog"
)

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
