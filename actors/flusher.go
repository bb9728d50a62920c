package actors

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/transport"
)

// The flusher: a goroutine that exists only while a connection has a
// backlog (bytes the socket did not take at once). It writes the backlog
// while the actor goes on with its mailbox, answers the replies that
// waited for those bytes, counts them out of the write queue, and tells
// the actor (a writeNotice) when the backlog is gone or the write failed.
// When the connection ends with a backlog it delivers it and closes the
// socket itself (wsClosing).
//
// Its watchdog measures progress as bytes the peer took (bytes written
// less what the kernel still holds unsent), not as write calls that
// returned: Linux wakes a writer blocked on a full send buffer only once a
// third of it is free, and a steady reader can take a whole second to
// free that much of a large buffer. A peer that takes no byte for the
// write timeout, or a stop forced by the owner, makes the watchdog move
// the socket's write deadline to the past.

// outbox is a connection's write side beyond the actor's buffer: its
// state and its backlog.
type outbox struct {
	st wstateWord
	mu sync.Mutex
	// Guarded by mu: buf[head:] is the backlog (appended by the actor,
	// written and trimmed by the flusher); acks wait for their bytes;
	// err is why the flusher failed (set before wsFailed); resetAfter
	// makes the flusher of a closing connection reset it once the peer
	// has taken everything (an error end).
	buf        []byte
	head       int
	acks       []ack
	err        error
	resetAfter bool
	// pending are the replies of the actor's turn, kept by the actor
	// until its flush hands them over (settleAcks).
	pending []ack
	// lw is the event loop's writer of the backlog, if it has one.
	lw *loopWriter
	// wantDrain: the actor waits for the backlog to be gone (a StartTLS,
	// a passivation, a CloseWrite): the flusher tells it then.
	wantDrain atomic.Bool
	// closeWrite: the handler asked for CloseWrite; nothing more is
	// written, and the write side shuts once the backlog is gone (the
	// actor's; halfclose.go).
	closeWrite bool
}

// flushChunk is the most one write call of the flusher is given, so that
// the acks and the write queue follow its progress.
const flushChunk = 64 << 10

// writeNotice tells the actor its write side changed: the queue crossed
// a watermark, the backlog it waited for is gone (writeIdle), or the
// flusher failed. It is posted
// as a system message, so that it overtakes the sends queued ahead of it.
type writeNotice struct{}

var writeNoticeMsg = &writeNotice{}

// writeIdle reports whether the write side has no backlog; if it has,
// the flusher posts a writeNotice once it is gone (actor).
func (c *conn) writeIdle() bool {
	if c.writeState() == wsDirect {
		return true
	}
	c.ob.wantDrain.Store(true)
	return c.ob.st.load() == wsDirect // gone meanwhile: the notice may come all the same
}

// startWriter starts what writes the backlog just made: on the event
// loop, when its socket can take bytes again, for a loop connection;
// else the flusher goroutine (actor, in wsFlushing).
func (c *conn) startWriter() {
	if l, ok := c.sock.(*loopConn); ok && c.startLoopWriter(l) {
		return
	}
	c.startFlusher()
}

// startFlusher starts the flusher goroutine of the backlog just made
// (actor, in wsFlushing or wsClosing).
func (c *conn) startFlusher() {
	c.refs.Add(1)
	go c.flushBacklog(c.sock)
}

// flushBacklog writes the backlog to sock until it is gone, the write
// fails, or the connection ends at once (flusher).
func (c *conn) flushBacklog(sock transport.Conn) {
	wd := c.startWatchdog(sock, nil)
	defer func() {
		wd.stop()
		c.unref()
	}()
	ob := c.ob
	for {
		ob.mu.Lock()
		if ob.st.load() == wsClosed { // ended at once: the actor closed the socket
			ob.mu.Unlock()
			return
		}
		b := ob.buf[ob.head:]
		if len(b) == 0 {
			if closing, resetAfter := ob.drained(c); closing {
				c.finishClose(sock, wd, resetAfter)
			}
			return
		}
		ob.mu.Unlock()
		n, err := writeBlocking(sock, b[:min(len(b), flushChunk)])
		ob.mu.Lock()
		if ob.st.load() == wsClosed { // ended at once meanwhile: the backlog is gone
			c.took(n)
			ob.mu.Unlock()
			return
		}
		ob.wrote(c, n)
		ob.mu.Unlock()
		if err != nil {
			if wd.stalled.Load() && !c.g.forced.Load() {
				err = c.stallError(err)
			}
			c.failWrite(sock, err)
			return
		}
	}
}

// wrote counts n bytes of the backlog as taken by the socket, with the
// replies and the write queue that follow them (mu held: bytes taken and
// the backlog's head change together, see queuedEnd).
func (ob *outbox) wrote(c *conn, n int) {
	c.took(n)
	ob.head += n
	if ob.head > len(ob.buf)/2 && ob.head > flushChunk { // let the written front go
		ob.buf = append(ob.buf[:0:0], ob.buf[ob.head:]...)
		ob.head = 0
	}
	ob.fireAcks(c)
	c.proc.addQueued(-n)
}

// drained ends a flusher whose backlog is all written (mu held; it
// unlocks): the write side is direct again, and the actor hears of it if
// it waits for that; or the connection has ended, and closing says so,
// with whether its socket is reset once the peer has taken everything.
func (ob *outbox) drained(c *conn) (closing, resetAfter bool) {
	ob.buf, ob.head, ob.lw = nil, 0, nil
	if ob.st.move(wsFlushing, wsDirect) {
		ob.answerAcks(c, nil)
		ob.mu.Unlock()
		if ob.wantDrain.Swap(false) {
			c.proc.post(writeNoticeMsg, true) // what waited for the backlog may go on
		}
		return false, false
	}
	closing, resetAfter = ob.st.load() == wsClosing, ob.resetAfter
	ob.mu.Unlock()
	return closing, resetAfter
}

// stallError is the error of a write the peer took nothing of for the
// write timeout.
func (c *conn) stallError(cause error) error {
	return fmt.Errorf("%w: no byte taken for %v (%w)", ErrWriteTimeout, c.g.socket.WriteTimeout, cause)
}

// writeBlocking writes b to sock, waiting for the peer (flusher).
func writeBlocking(sock transport.Conn, b []byte) (int, error) {
	if l, ok := sock.(*loopConn); ok {
		if !l.acquire() {
			return 0, net.ErrClosed
		}
		defer l.release()
	}
	return sock.Write(b)
}

// failWrite ends the flusher on a failed write: the actor is told, or,
// if the connection has ended already, the socket is reset and closed
// (flusher).
func (c *conn) failWrite(sock transport.Conn, err error) {
	ob := c.ob
	ob.mu.Lock()
	ob.err, ob.lw = err, nil
	ob.answerAcks(c, err)
	if ob.st.move(wsFlushing, wsFailed) {
		ob.mu.Unlock()
		c.proc.post(writeNoticeMsg, true)
		return
	}
	closing := ob.st.load() == wsClosing
	ob.mu.Unlock()
	if closing {
		reset(sock)
		c.closeWrite(sock)
	}
}

// finishClose closes a connection that ended once its backlog is
// delivered: at once after a clean end (a FIN), or, after an error end,
// once the peer has taken every byte (then a reset, which would throw
// away what the kernel still held) (flusher, wsClosing).
func (c *conn) finishClose(sock transport.Conn, wd *watchdog, resetAfter bool) {
	if resetAfter {
		for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
			if n, ok := unsent(sock); !ok || n == 0 || wd.stalled.Load() || c.g.forced.Load() {
				break
			}
			time.Sleep(wait) // the kernel tells of no acknowledgement: look again
		}
		reset(sock)
	}
	c.closeWrite(sock)
}

// closeWrite closes the socket of a closing connection (flusher).
func (c *conn) closeWrite(sock transport.Conn) {
	sock.Close()
	c.ob.st.move(wsClosing, wsClosed)
}

// addAcks hands the actor's pending replies to the write side: sent now
// if their bytes are taken (or can no longer be), kept for the flusher
// otherwise (actor).
func (ob *outbox) addAcks(c *conn, acks []ack) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	switch ob.st.load() {
	case wsFlushing, wsClosing:
		ob.acks = append(ob.acks, acks...)
		ob.fireAcks(c)
	case wsDirect: // the flusher finished meanwhile: everything is taken
		for _, a := range acks {
			replyAny(c.g.sys, a.to, a.v)
		}
	default:
		for _, a := range acks {
			replyAny(c.g.sys, a.to, ob.failure())
		}
	}
}

// fireAcks sends the replies whose bytes the socket has taken (mu held).
func (ob *outbox) fireAcks(c *conn) {
	taken := c.proc.counters.bytesOut.Load()
	i := 0
	for ; i < len(ob.acks) && ob.acks[i].pos <= taken; i++ {
		replyAny(c.g.sys, ob.acks[i].to, ob.acks[i].v)
	}
	if i > 0 {
		clear(ob.acks[:i])
		ob.acks = ob.acks[i:]
	}
}

// answerAcks sends every waiting reply: its value, or err (mu held).
func (ob *outbox) answerAcks(c *conn, err error) {
	for _, a := range ob.acks {
		replyAny(c.g.sys, a.to, ackValue(a.v, err))
	}
	ob.acks = nil
}

// failure is why the write side can no longer deliver (mu held, or the
// state read as failed).
func (ob *outbox) failure() error {
	if ob.err != nil {
		return ob.err
	}
	return errConnClosed
}

// replyAny sends a Reply from any goroutine.
func replyAny(sys *actor.ActorSystem, to *actor.PID, v any) {
	if to == nil {
		return
	}
	if remote(sys, to) {
		sys.Root.Send(to, replyToWire(v))
		return
	}
	sys.Root.Send(to, newReply(v))
}

// newReply wraps v: an error value is the caller's error.
func newReply(v any) *Reply {
	if err, ok := v.(error); ok {
		return &Reply{Err: err}
	}
	return &Reply{Value: v}
}

// watchdog watches a flusher's progress.
type watchdog struct {
	c    *conn
	sock transport.Conn
	// interrupt ends the write under way (called with mu held): by
	// default it moves the socket's write deadline to the past.
	interrupt func()
	mu        sync.Mutex
	t         *time.Timer
	stopped   bool
	taken     uint64        // bytes the peer had taken at the last look
	since     time.Duration // when that changed, as time.Since(epoch)
	stalled   atomic.Bool   // no byte taken for the write timeout: the write was interrupted
}

// watchPeriod is how often the watchdog looks: a quarter of the write
// timeout, at least 5 ms and at most 50 ms (a forced stop is seen within
// that).
func (c *conn) watchPeriod() time.Duration {
	wt := c.g.socket.WriteTimeout
	if wt <= 0 {
		return 50 * time.Millisecond
	}
	return min(max(wt/4, 5*time.Millisecond), 50*time.Millisecond)
}

func (c *conn) startWatchdog(sock transport.Conn, interrupt func()) *watchdog {
	w := &watchdog{c: c, sock: sock, interrupt: interrupt, taken: peerTook(c, sock), since: time.Since(epoch)}
	if interrupt == nil {
		w.interrupt = func() { sock.SetWriteDeadline(kickTime) }
	}
	w.mu.Lock()
	w.t = time.AfterFunc(c.watchPeriod(), w.look)
	w.mu.Unlock()
	return w
}

// look interrupts the flusher's write if the peer took nothing for the
// write timeout, or the owner forces its connections to end.
func (w *watchdog) look() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	now := time.Since(epoch)
	if took := peerTook(w.c, w.sock); took != w.taken {
		w.taken, w.since = took, now
	}
	wt := w.c.g.socket.WriteTimeout
	switch {
	case w.c.g.forced.Load():
		w.interrupt()
	case wt > 0 && now-w.since >= wt:
		w.stalled.Store(true)
		w.interrupt()
	}
	w.t.Reset(w.c.watchPeriod())
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.t.Stop()
	w.mu.Unlock()
}

// peerTook is how many bytes the peer has taken: written to the socket
// less what its kernel still holds (or written, where the kernel does
// not say).
func peerTook(c *conn, sock transport.Conn) uint64 {
	out := c.proc.counters.bytesOut.Load()
	if n, ok := unsent(sock); ok && uint64(n) <= out {
		return out - uint64(n)
	}
	return out
}

// unsent is how many bytes sock's kernel holds that the peer has not
// acknowledged, if it can tell.
func unsent(sock any) (int, bool) {
	switch s := sock.(type) {
	case *loopConn:
		if !s.acquire() {
			return 0, false
		}
		defer s.release()
		return outq(s.fd)
	case interface{ NetConn() net.Conn }:
		return unsent(s.NetConn())
	case syscall.Conn:
		rc, err := s.SyscallConn()
		if err != nil {
			return 0, false
		}
		var n int
		var ok bool
		if rc.Control(func(fd uintptr) { n, ok = outq(int(fd)) }) != nil {
			return 0, false
		}
		return n, ok
	}
	return 0, false
}
