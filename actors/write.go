package actors

import (
	"fmt"
	"sync"
	"time"
)

// Writes are coalesced: packets asked for while handling a message are
// framed into one pooled buffer and written with one syscall when the
// message is done (settle), or earlier when an acknowledgement or a
// close needs them on the wire.

// epoch makes monotonic clock readings cheap: time.Since(epoch) reads
// one clock, time.Now two.
var epoch = time.Now()

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxPooledOut is the largest write buffer given back to the pool.
const maxPooledOut = 64 << 10

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

// writeChunk is the most one write call is given: the write deadline is
// re-armed between chunks, so it bounds a stall, not a long write to a
// peer that reads steadily (Netty's observeOutput).
const writeChunk = 64 << 10

// flush writes what is queued. A write that makes no progress for
// WriteTimeout ends with an error wrapping ErrWriteTimeout.
func (c *conn) flush() error {
	if c.out == nil {
		return nil
	}
	b := *c.out
	defer c.releaseOut()
	wt := c.g.socket.WriteTimeout
	for len(b) > 0 {
		if wt > 0 {
			// Re-arm the deadline only when less than half of it is left:
			// a stalled chunk still ends within (WriteTimeout/2,
			// WriteTimeout], and the hot path does not reset a runtime
			// timer on every write.
			if now := time.Since(epoch); c.wdeadline-now < wt/2 {
				c.wdeadline = now + wt
				c.sock.SetWriteDeadline(time.Now().Add(wt))
				if c.interrupted() {
					// The owner is forcing its connections to end, or the
					// queue overflowed: a kick made before this re-arm
					// must not be undone by it.
					c.sock.SetWriteDeadline(kickTime)
				}
			}
		}
		n, err := c.sock.Write(b[:min(len(b), writeChunk)])
		b = b[n:]
		c.proc.counters.bytesOut.Add(uint64(n))
		if err != nil {
			switch {
			case !isTimeout(err):
			case c.proc.overflown.Load():
				return fmt.Errorf("%w: more than %d bytes queued behind a write (%w)", ErrOverflow, c.g.writeQueue.Max, err)
			case !c.g.forced.Load():
				return fmt.Errorf("%w: no byte written for %v (%w)", ErrWriteTimeout, wt, err)
			}
			return err
		}
	}
	return nil
}

// interrupted reports whether writes must stop at once: the owner forces
// its connections to end (Group.Force), or a send went over the queue's
// cap (process.interruptWrite).
func (c *conn) interrupted() bool { return c.g.forced.Load() || c.proc.overflown.Load() }

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
