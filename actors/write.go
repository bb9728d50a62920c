package actors

import (
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Writes are coalesced: packets asked for while handling a message are
// framed into one pooled buffer and written when the message is done
// (settle), with one system call that does not wait. What the socket does
// not take at once is the backlog, written by the flusher (flusher.go)
// while the actor goes on with its mailbox: the actor never waits for the
// peer. Replies that must follow bytes to the wire (a SendSync's, a
// Reply after packets) wait in acks until the socket has taken them.

// epoch makes monotonic clock readings cheap: time.Since(epoch) reads
// one clock, time.Now two.
var epoch = time.Now()

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxPooledOut is the largest write buffer given back to the pool.
const maxPooledOut = 64 << 10

// ack is a reply that is sent once the socket has taken the connection's
// bytes up to pos (the stream position after the bytes it follows).
type ack struct {
	pos uint64
	to  *actor.PID
	v   any
}

// queue frames p into the write buffer.
func (c *conn) queue(p []byte) error {
	if c.out == nil {
		c.out = outPool.Get().(*[]byte)
	}
	b, err := c.g.socket.Framer.Encode(*c.out, p)
	if err != nil {
		return err
	}
	*c.out = b
	c.proc.counters.framesOut.Add(1)
	if c.tracer != nil {
		c.traceBytes(TracePacketOut, p)
	}
	return nil
}

// queuedEnd is the stream position after what is queued so far, where a
// reply that follows it may go: the bytes the socket took, then the
// backlog (which changes with them, under the outbox's lock), then the
// actor's buffer (actor).
func (c *conn) queuedEnd() uint64 {
	var end uint64
	if ob := c.ob; ob != nil {
		ob.mu.Lock()
		end = c.proc.counters.bytesOut.Load() + uint64(len(ob.buf)-ob.head)
		ob.mu.Unlock()
	} else {
		end = c.proc.counters.bytesOut.Load()
	}
	if c.out != nil {
		end += uint64(len(*c.out))
	}
	return end
}

// replyAfter sends v to to once what is queued so far is written (at
// once if nothing is).
func (c *conn) replyAfter(to *actor.PID, v any) {
	if to == nil {
		return
	}
	if c.out == nil || len(*c.out) == 0 {
		c.sendReply(to, v)
		return
	}
	ob := c.outbox()
	ob.pending = append(ob.pending, ack{pos: c.queuedEnd(), to: to, v: v})
}

// writeState is the write side's state: direct until the first backlog.
func (c *conn) writeState() wstate {
	if c.ob == nil {
		return wsDirect
	}
	return c.ob.st.load()
}

// outbox returns the connection's outbox, made on first use (actor; the
// flusher only ever sees it made).
func (c *conn) outbox() *outbox {
	if c.ob == nil {
		c.ob = &outbox{}
	}
	return c.ob
}

// flush hands what is queued to the write side: written at once as far
// as the socket takes it, the rest appended to the backlog. An error is
// the socket's: the connection ends with it.
func (c *conn) flush() error {
	if c.out == nil {
		return c.settleAcks(nil)
	}
	b := *c.out
	credit := c.outCredit
	c.outCredit = 0
	if c.ob != nil && c.ob.closeWrite { // nothing is written after CloseWrite (halfclose.go)
		return c.refuseWrite(credit)
	}
	if c.writeState() == wsDirect {
		n, err := c.tryWrite(b)
		c.took(n)
		if err != nil {
			c.releaseOut()
			c.proc.addQueued(-credit)
			return c.settleAcks(err)
		}
		if n == len(b) {
			c.releaseOut()
			c.proc.addQueued(-credit)
			return c.settleAcks(nil)
		}
		// The socket is full: the rest is the backlog. The buffer goes
		// with it (no copy).
		// The count changes under the outbox's lock, in step with the
		// backlog that the flusher counts out.
		ob := c.outbox()
		ob.mu.Lock()
		ob.buf, ob.head = b[n:], 0
		ob.st.move(wsDirect, wsFlushing)
		c.proc.addQueued(len(b) - n - credit)
		ob.mu.Unlock()
		c.out = nil
		c.startWriter()
		return c.settleAcks(nil)
	}
	ob := c.ob
	ob.mu.Lock()
	switch ob.st.load() {
	case wsFlushing:
		ob.buf = append(ob.buf, b...)
		c.proc.addQueued(len(b) - credit)
		ob.mu.Unlock()
		c.releaseOut()
		return c.settleAcks(nil)
	case wsDirect: // the flusher finished meanwhile
		ob.mu.Unlock()
		c.outCredit = credit
		return c.flush()
	}
	ob.mu.Unlock() // failed: the failure's notice ends the connection
	c.releaseOut()
	return nil
}

// settleAcks sends the replies whose bytes the socket has taken, with
// err if the write failed; the others wait in the outbox for the flusher
// (actor).
func (c *conn) settleAcks(err error) error {
	ob := c.ob
	if ob == nil || len(ob.pending) == 0 {
		return err
	}
	if err == nil && ob.st.load() != wsDirect {
		ob.addAcks(c, ob.pending)
	} else {
		for _, a := range ob.pending {
			c.sendReply(a.to, ackValue(a.v, err))
		}
	}
	clear(ob.pending)
	ob.pending = ob.pending[:0]
	return err
}

// ackValue is what an ack answers: its value, or the write's error.
func ackValue(v any, err error) any {
	if err != nil {
		return err
	}
	return v
}

// took counts n bytes taken by the socket.
func (c *conn) took(n int) {
	if n > 0 {
		c.proc.counters.bytesOut.Add(uint64(n))
	}
}

// tryWrite writes what the socket takes of b without waiting for the
// peer (actor, owning the socket's writes: wsDirect). A socket with no
// descriptor to write to (TLS) takes nothing here: its bytes all go to the
// flusher.
func (c *conn) tryWrite(b []byte) (int, error) {
	switch {
	case c.inLoop():
		l := c.sock.(*loopConn)
		if !l.acquire() {
			return 0, os.ErrClosed
		}
		n, err := writeNow(l.fd, b)
		l.release()
		return n, err
	case c.raw != nil:
		w := rawWriters.Get().(*rawWriter)
		w.b = b
		err := c.raw.Write(w.fn)
		n, werr := w.n, w.err
		*w = rawWriter{fn: w.fn}
		rawWriters.Put(w)
		if err != nil {
			return n, err // a deadline in the past: Force
		}
		return n, werr
	}
	return 0, nil
}

// rawWriter is a syscall.RawConn write callback with its arguments and
// results: pooled, with its callback bound once, so that a write
// allocates nothing and a connection carries none of it.
type rawWriter struct {
	b   []byte
	n   int
	err error
	fn  func(uintptr) bool // w.write
}

var rawWriters = sync.Pool{New: func() any {
	w := &rawWriter{}
	w.fn = w.write
	return w
}}

// write writes what fd takes of w.b at once: it never waits.
func (w *rawWriter) write(fd uintptr) bool {
	w.n, w.err = writeNow(int(fd), w.b)
	return true
}

// writeNow writes what fd takes of b at once.
func writeNow(fd int, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := syscall.Write(fd, b[done:])
		if n > 0 {
			done += n
		}
		switch err {
		case nil, syscall.EINTR:
		case syscall.EAGAIN:
			return done, nil
		default:
			return done, os.NewSyscallError("write", err)
		}
	}
	return done, nil
}

// releaseOut gives the write buffer back to the pool.
func (c *conn) releaseOut() {
	if cap(*c.out) <= maxPooledOut {
		*c.out = (*c.out)[:0]
		outPool.Put(c.out)
	}
	c.out = nil
}

// releaseBuffers lets every buffer go at the end.
func (c *conn) releaseBuffers() {
	if c.out != nil {
		c.releaseOut()
	}
	c.pending = nil
}
