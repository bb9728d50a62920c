package actors

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/etcp-go/etcp/transport"
)

// The event loop (ConnOptions.EventLoops, WithEventLoop).
//
// A TCP or Unix connection of a group with event loops gives its socket
// up to a bare non-blocking descriptor (a loopConn), out of Go's
// netpoller, when it first wants bytes. Its read side then lives on one of
// the group's pollers: when bytes arrive, the poller's goroutine reads
// them, posts them with postInline (which runs the actor right there when
// it is idle: the handler's callbacks, the Result, the write), and arms
// the socket's registration again. Many ready connections are served per
// wake-up, with no goroutine switch per message and no goroutine per
// connection; the actor model is unchanged (the same mailbox, state word
// and callbacks).
//
// The registration is a watch (poll.Poller.Watch): edge-triggered, it
// stays in the epoll set for the connection's life on the loop, so arming
// it again after a short read (which drained the socket) costs no system
// call; after a read that filled the buffer the kernel looks at the
// socket again (RearmCheck). Edges that come while the connection is away
// from the loop (its actor busy, a blocked write) are kept for the next
// Rearm, and the peer's end is reported to every Rearm once seen. The
// watch belongs to whoever owns the read side, as the state word says:
// the reader drops it when the connection ends under it (loopNext), the
// actor when it ends, passivates or leaves the loop while it owns the
// socket (dropWatch).
//
// The loop must never block, so:
//   - a read the actor cannot take at once (it is busy with another
//     message) is waited for on a goroutine of its own (loopAwait);
//   - a write never waits: what the socket does not take at once goes to
//     the loop itself once the socket can take bytes again (EPOLLOUT,
//     loopwriter.go);
//   - a StartTLS handshake calls mayBlock first, which hands the poller
//     to a new goroutine (poll.Poller.Handoff): the blocked turn finishes
//     on what is now the connection's own goroutine, and its read side
//     goes back to the poller afterwards;
//   - a handler must not block in its callbacks: that stalls the other
//     connections of the loop (gnet's rule too). Handlers that block
//     belong in the default mode.

// inLoop reports whether the connection is served by the event loop.
func (c *conn) inLoop() bool {
	_, ok := c.sock.(*loopConn)
	return ok
}

// enterLoop gives the socket to the event loop, if the group has it on
// and the socket can be detached (actor, owning the socket: stIdle).
func (c *conn) enterLoop() {
	if len(c.g.loops) == 0 || c.raw == nil || c.inLoop() {
		return
	}
	det, ok := c.sock.(transport.Detacher)
	if !ok {
		return
	}
	local, peer := c.sock.LocalAddr(), c.sock.RemoteAddr()
	d, err := det.Detach()
	if err != nil {
		if c.logs(slog.LevelDebug) {
			c.Logger().Debug("etcp: the event loop could not take the socket: it keeps its goroutine", "err", err)
		}
		return
	}
	l := &loopConn{d: d, fd: d.FD(), local: local, peer: peer, c: c}
	c.proc.mu.Lock() // Force and the write queue read the socket from other goroutines
	c.useSocket(l)
	c.proc.mu.Unlock()
}

// leaveLoop gives the socket back to Go's netpoller, for StartTLS (actor,
// owning the socket).
func (c *conn) leaveLoop() error {
	l, ok := c.sock.(*loopConn)
	if !ok {
		return nil
	}
	c.mayBlock()
	c.dropWatch()
	sock, err := l.d.Attach()
	if err != nil {
		return err
	}
	if dl := l.wdl.Load(); dl != 0 {
		sock.SetWriteDeadline(time.Unix(0, dl))
	}
	c.proc.mu.Lock()
	c.useSocket(sock)
	c.proc.mu.Unlock()
	return nil
}

// mayBlock is called by a turn about to block: if it runs on the poller's
// goroutine, another goroutine becomes the poller's first (actor).
func (c *conn) mayBlock() {
	if !c.onLoop {
		return
	}
	c.onLoop = false
	if l, ok := c.sock.(*loopConn); ok {
		l.handed = true
	}
	c.proc.poller().Handoff()
}

// loopStart registers a loop connection's read side with the poller
// (actor, in stReading, standing in for the reader).
func (c *conn) loopStart() {
	if !c.loopNext(c.sock.(*loopConn)) {
		go c.loopServe(false) // bytes came while it registered
	}
}

// loopServe reads, and runs the actor on what it read, until the read
// side is registered with the poller again or given up (the poller's
// goroutine when onLoop, else a goroutine of its own; in stReading).
func (c *conn) loopServe(onLoop bool) {
	l := c.sock.(*loopConn)
	for {
		if c.loopRead(l) {
			if !c.posted() { // ended while this reader had the read side
				c.dropRead()
				c.unwatch(l)
				c.unref()
				return
			}
			l.handed = false
			gen := c.readerGen.Load()
			c.mb.postInline(&c.ev, onLoop)
			onLoop = onLoop && !l.handed // a blocked turn handed the poller off
			if c.proc.st.load() == stPosted {
				// The actor is busy with another message.
				if onLoop {
					go c.loopAwait(l, gen)
					return
				}
			}
			if c.awaitRelease(gen) == stIdle {
				c.unref() // stopped: the actor owns the read side and its watch
				return
			}
			if c.leftLoop(onLoop) {
				return
			}
		}
		if c.loopNext(l) {
			return
		}
	}
}

// loopRead reads what the socket has (reader), as rawRead does; a socket
// the actor has closed meanwhile reads as closed.
func (c *conn) loopRead(l *loopConn) bool {
	if !l.acquire() {
		c.ev.err = net.ErrClosed
		return true
	}
	defer l.release()
	ok := c.rawRead(uintptr(l.fd))
	c.drained = !ok || c.ev.err != nil || c.ev.n < readBufSize
	return ok
}

// errReadNow: bytes came while the watch was disarmed; read them.
var errReadNow = errors.New("etcp: bytes came while the loop was busy")

// registerLoop registers a loop connection's socket with its poller
// (reader, parking), holding a use of the descriptor. The registration is
// a watch that stays in the epoll set: after a short read it is armed
// again with no system call (Rearm); after a read that filled the buffer
// the kernel looks at the socket (RearmCheck), since bytes already there
// make no new edge. errReadNow (like any error, which park answers by
// reading on) says edges came while it was disarmed.
func (c *conn) registerLoop(l *loopConn) error {
	if !l.acquire() {
		return net.ErrClosed
	}
	defer l.release()
	p := c.proc.poller()
	if c.watching {
		if c.drained {
			ready, gone := p.Rearm(c.key())
			if ready {
				return errReadNow
			}
			if !gone {
				return nil
			}
		} else if gone, err := p.RearmCheck(l.fd, c.key()); !gone && err == nil {
			return nil
		}
		p.Remove(l.fd, c.key()) // gone, or failed: register afresh
		c.watching = false
	}
	k, err := p.Watch(l.fd, c)
	if err == nil {
		c.pollKey.Store(uint64(k))
		c.watching = true
	}
	return err
}

// unwatch takes the loop connection's watch back as its reader ends with
// the connection, if the actor has not (reader).
func (c *conn) unwatch(l *loopConn) {
	if c.watching {
		c.unpoll(l.fd)
	}
}

// dropWatch takes the event loop's watch back when the actor owns the read
// side (stIdle, stPosted, stWaiting) and the connection ends, passivates
// or leaves the loop; the descriptor is open (the actor closes it later)
// (actor).
func (c *conn) dropWatch() {
	if !c.watching {
		return
	}
	c.watching = false
	fd := -1
	if l, ok := c.sock.(*loopConn); ok {
		fd = l.fd
	}
	c.proc.poller().Remove(fd, c.key())
}

// loopAwait waits for the actor to release a read, off the poller's
// goroutine, then goes on as loopServe.
func (c *conn) loopAwait(l *loopConn, gen uint32) {
	if c.awaitRelease(gen) == stIdle {
		c.unref() // stopped: the actor owns the read side and its watch
		return
	}
	if !c.leftLoop(false) && !c.loopNext(l) {
		c.loopServe(false)
	}
}

// leftLoop hands the read side to the default reader if the turn that
// released it took the socket off the event loop (StartTLS), reporting
// whether it did (reader, after a released read).
func (c *conn) leftLoop(onLoop bool) bool {
	switch c.proc.st.load() {
	case stReading, stKickPark, stKickStop: // the reader's: the actor leaves the socket alone
		if c.inLoop() {
			return false
		}
		if onLoop {
			go c.reader()
		} else {
			c.reader()
		}
		return true
	}
	return false // stopped or ended: loopNext lets go
}

// loopNext registers the read side with the poller again, or ends the
// reader, after a released read (or a read that found nothing). It
// reports false if the reader must read on.
func (c *conn) loopNext(l *loopConn) (done bool) {
	st := &c.proc.st
	for {
		var step readerStep
		switch s := st.load(); s {
		case stReading:
			if !c.startParking() {
				continue // kicked meanwhile
			}
			step = c.park()
		case stKickPark, stKickStop:
			step = c.onKicked(s)
		default: // stopped (stIdle: the actor owns the socket and its watch) or ended
			step = readerDone
		}
		switch step {
		case readOn:
			return false
		case readerDone:
			if st.load() == stClosed {
				// Ended: the watch is the reader's to drop, unless the
				// actor, owning the read side then, dropped it already.
				c.unwatch(l)
			}
			c.unref()
		}
		return true
	}
}

// spawnReader starts a goroutine to read for the connection, the event
// loop's or the default one (the reader's reference goes to it).
func (c *conn) spawnReader() {
	if c.inLoop() {
		go c.loopServe(false)
		return
	}
	go c.reader()
}
