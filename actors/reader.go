package actors

import (
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/etcp-go/etcp/transport"
)

// How a connection reads.
//
// One reader goroutine per connection runs while the handler wants bytes
// (active mode, or a passive Recv). On a socket that exposes its
// descriptor (TCP, Unix) the reader parks on readiness through
// syscall.RawConn and holds no buffer while it waits: it takes a pooled
// buffer only once bytes are there. It then posts the bytes to the actor's
// mailbox with postInline, which runs the actor right here when it is idle
// (no goroutine hop), and waits until the actor has consumed them before
// reading again. So there is at most one read in flight, a slow handler
// slows its own peer through TCP back-pressure, and memory stays bounded.
// Other transports (TLS) read the same way through Conn.Read, holding the
// pooled buffer while they wait. A reader that has nothing to read for a
// while parks on the shared poller and exits (park.go).

// readBufSize is the size of one read.
const readBufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// readEvent is what the reader posts: one per connection, reused, since
// only one read is in flight.
type readEvent struct {
	buf *[]byte // pooled; the actor returns it
	n   int
	err error
}

// rawRead is the syscall.RawConn read callback: it returns false (wait for
// readiness) without holding a buffer.
func (c *Conn) rawRead(fd uintptr) bool {
	b := bufPool.Get().(*[]byte)
	for {
		n, err := syscall.Read(int(fd), *b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			bufPool.Put(b)
			return false
		case err != nil:
			bufPool.Put(b)
			c.ev.err = os.NewSyscallError("read", err)
		case n == 0:
			bufPool.Put(b)
			c.ev.err = io.EOF
		default:
			c.ev.buf, c.ev.n = b, n
		}
		return true
	}
}

// startReading makes sure a reader runs (actor only).
func (c *Conn) startReading() {
	c.readWanted.Store(true)
	if c.readerOn.CompareAndSwap(false, true) {
		c.refs.Add(1)
		go c.reader()
	}
}

// reader runs readLoop and drops the reader's reference unless the
// reader parked on the shared poller, which then holds it.
func (c *Conn) reader() {
	if !c.readLoop() {
		c.unref()
	}
}

// readLoop reads until the handler stops wanting bytes, the socket ends,
// or the connection parks; it reports whether it parked.
func (c *Conn) readLoop() (parked bool) {
	for {
		// c.raw and c.sock change only while this goroutine waits on
		// its read to be released (StartTLS), so reading them here does not race.
		if c.raw != nil {
			if c.parkReq.Load() && c.park() {
				return true
			}
			c.armParkDeadline()
			if err := c.raw.Read(c.readFn); err != nil {
				if isTimeout(err) {
					switch c.onReadDeadline() {
					case timeoutParked:
						return true
					case timeoutBusy:
						continue
					}
				}
				c.ev.err = err
			} else {
				c.readsSinceArm++
			}
		} else {
			b := bufPool.Get().(*[]byte)
			n, err := c.sock.Read(*b)
			if n > 0 {
				c.ev.buf, c.ev.n = b, n
			} else {
				bufPool.Put(b)
				c.ev.err = err
			}
		}
		fatal := c.ev.err != nil && !isTimeout(c.ev.err)
		c.mb.postInline(&c.ev)
		// Usually the actor ran right here and consumed the read. If it
		// did not (it was busy elsewhere, or holds the read for StartTLS),
		// wait for releaseReader or closeReader. The channel is made on
		// the first wait: most connections never need one.
		if c.evState.Load() == evPosted {
			if c.consumed == nil {
				c.consumed = make(chan struct{}, 1)
			}
			if c.evState.CompareAndSwap(evPosted, evWaiting) {
				<-c.consumed
			}
		}
		if !c.evState.CompareAndSwap(evConsumed, evPosted) || fatal {
			return false // the connection ended, or the socket did
		}
		if !c.readWanted.Load() {
			c.readerOn.Store(false)
			// The actor may have asked again between the load and the store.
			if !c.readWanted.Load() || !c.readerOn.CompareAndSwap(false, true) {
				if c.parkReq.Load() {
					// Hibernating, and no read wanted (passive mode): the
					// reader is done, so the actor may passivate now. The
					// kick itself is left for the next reader (park).
					c.mb.postNudge()
				}
				return false
			}
		}
	}
}

// The states of the one read in flight.
const (
	evPosted   int32 = iota // posted, not consumed yet
	evWaiting               // the reader waits on c.consumed
	evConsumed              // the actor is done with it
	evClosed                // the connection ended: the reader stops
)

// releaseReader tells the reader its read was consumed (actor only).
func (c *Conn) releaseReader() {
	if c.evState.Swap(evConsumed) == evWaiting {
		c.consumed <- struct{}{}
	}
}

// closeReader tells the reader the connection ended (actor only). The
// reader made c.consumed before it announced that it waits.
func (c *Conn) closeReader() {
	if c.evState.Swap(evClosed) == evWaiting {
		close(c.consumed)
	}
}

// take delivers freshly read bytes; what no frame used yet is kept.
func (c *Conn) take(ev *readEvent) {
	data := (*ev.buf)[:ev.n]
	if len(c.pending) > 0 {
		c.pending = append(c.pending, data...)
		c.putBuf(ev)
		c.pending = c.keep(c.consume(c.pending), c.pending)
		return
	}
	rest := c.consume(data)
	if len(rest) > 0 {
		c.pending = append(c.pending[:0], rest...)
	}
	c.putBuf(ev)
}

func (c *Conn) putBuf(ev *readEvent) {
	bufPool.Put(ev.buf)
	ev.buf, ev.n = nil, 0
}

// keep moves the unconsumed tail rest of buf to its front, and lets a
// large buffer go once it is empty.
func (c *Conn) keep(rest, buf []byte) []byte {
	if len(rest) == 0 {
		if cap(buf) > readBufSize {
			return nil
		}
		return buf[:0]
	}
	return append(buf[:0], rest...)
}

// wants reports whether the handler wants frames now.
func (c *Conn) wants() bool { return !c.passive || c.recvWant }

// consume delivers frames from data while the handler wants them and
// returns the bytes left over.
func (c *Conn) consume(data []byte) []byte {
	framer, max := c.cfg.Socket.Framer, c.cfg.Socket.MaxFrame
	raw := transport.IsRaw(framer)
	for len(data) > 0 && c.wants() && c.state == stateUp && c.upgrade == nil {
		var frame []byte
		var n int
		if raw && c.passive && c.recvN > 0 {
			if len(data) < c.recvN {
				return data
			}
			frame, n = data[:c.recvN], c.recvN
		} else {
			var err error
			if frame, n, err = framer.Decode(data, max); err != nil {
				c.terminate(err)
				return nil
			}
			if n == 0 {
				return data
			}
		}
		data = data[n:]
		c.deliver(frame)
	}
	return data
}

// deliver runs HandlePacket for one frame, counting it against the mode.
func (c *Conn) deliver(frame []byte) {
	if c.passive {
		c.clearRecv()
	} else if c.activeN > 0 {
		if c.activeN--; c.activeN == 0 {
			c.passive = true
		}
	}
	if c.tracer != nil {
		c.traceBytes(TracePacketIn, frame)
	}
	c.run(cbPacket, nil, frame)
}
