package actors

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/etcp-go/etcp/actors/internal/poll"
	"github.com/etcp-go/etcp/transport"
)

// canPark is true where the shared poller exists.
const canPark = poll.Supported

// How a connection reads.
//
// One reader goroutine per connection runs while the handler wants bytes
// (active mode, or a passive Recv). On a socket that exposes its
// descriptor (TCP, Unix) the reader waits for readiness through
// syscall.RawConn and holds no buffer while it waits: it takes a pooled
// buffer only once bytes are there. It then posts the bytes to the
// actor's mailbox with postInline, which runs the actor right here when
// it is idle (no goroutine hop), and does not read again until the actor
// has released the read (stPosted in state.go). So there is at most one
// read in flight, a slow handler slows its own peer through TCP
// back-pressure, and memory stays bounded. Other transports (TLS) read
// the same way through Conn.Read, holding the pooled buffer while they
// wait. A reader that has nothing to read for ParkAfter parks on the
// shared poller and ends (park.go).

// rawFramer is the framer that needs no reassembly.
var rawFramer = transport.Raw()

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
func (c *conn) rawRead(fd uintptr) bool {
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

// reader is the reader goroutine: it drops its reference when it ends,
// unless the reference went to the poller with the socket.
func (c *conn) reader() {
	if readerHook != nil {
		readerHook(c, +1)
		defer readerHook(c, -1)
	}
	if c.readLoop() != readerGone {
		c.unref()
	}
}

// readerHook, set by tests only, hears of every reader goroutine starting
// (+1) and ending (-1).
var readerHook func(c *conn, delta int)

// readLoop reads until the actor stops wanting bytes, the connection
// ends, or the reader parks.
func (c *conn) readLoop() readerStep {
	for {
		// c.raw and c.sock change only while the actor owns the socket
		// (stIdle, stPosted), never while this goroutine reads.
		if c.raw != nil {
			c.armDeadline()
			if err := c.raw.Read(c.readFn); err != nil {
				if isTimeout(err) {
					if step := c.onDeadline(); step != readOn {
						return step
					}
					continue
				}
				c.ev.err = err
			} else {
				c.readsSinceArm = min(c.readsSinceArm+1, 1)
			}
		} else {
			b := bufPool.Get().(*[]byte)
			n, err := c.sock.Read(*b)
			switch {
			case n > 0:
				c.ev.buf, c.ev.n = b, n
			case isTimeout(err): // a kick: the actor wants the socket
				bufPool.Put(b)
				if step := c.onDeadline(); step != readOn {
					return step
				}
				continue
			default:
				bufPool.Put(b)
				c.ev.err = err
			}
		}
		if !c.posted() {
			c.dropRead()
			return readerDone // the connection ended
		}
		gen := c.readerGen.Load()
		c.mb.postInline(&c.ev, false)
		// Usually the actor ran right here and released the read.
		switch s := c.awaitRelease(gen); s {
		case stReading:
		case stKickPark, stKickStop:
			if step := c.onKicked(s); step != readOn {
				return step
			}
		default:
			return readerDone // stopped (stIdle) or ended
		}
	}
}

// dropRead gives back what a read took when no one will consume it.
func (c *conn) dropRead() {
	c.putBuf(&c.ev)
	c.ev.err = nil
}

// maxParkShift bounds the idle deadline of a busy reader: 64 × ParkAfter.
const maxParkShift = 6

// armDeadline arms the idle deadline after which an idle reader parks,
// if parking is on and it is not armed yet (reader). A kick the actor
// made meanwhile is made again: arming must not undo it.
//
// The deadline is ParkAfter at first and doubles (up to 64 × ParkAfter)
// each time it passes with reads in between (onDeadline); parking starts
// it over. A deadline that fires is a runtime timer that wakes an idle
// thread: at 10 ms, 50 busy connections made 5,000 such wake-ups a
// second and cost a third of the server's CPU per request under
// redis-benchmark. Doubling leaves a busy connection about one a second,
// while an idle one still parks after ParkAfter.
func (c *conn) armDeadline() {
	if c.deadlineArmed || !canPark || c.g.parkAfter <= 0 {
		return
	}
	c.deadlineArmed, c.readsSinceArm = true, 0
	c.sock.SetReadDeadline(time.Now().Add(c.g.parkAfter << c.parkShift))
	if s := c.proc.st.load(); s == stKickPark || s == stKickStop || c.g.forced.Load() {
		c.sock.SetReadDeadline(kickTime)
	}
}

// clearDeadline clears the read deadline (reader).
func (c *conn) clearDeadline() {
	c.deadlineArmed = false
	c.sock.SetReadDeadline(time.Time{})
}

// take delivers freshly read bytes; what no frame used yet is kept.
//
// c.scan is where a framer that is a transport.Resumer stopped in the
// incomplete frame at the start of c.pending, relative to the frame's
// first byte (see consume and keep). With nothing pending it describes
// nothing, whatever became of the bytes (StartTLS hands them to TLS), and
// fresh bytes start a frame from the zero state.
func (c *conn) take(ev *readEvent) {
	c.proc.counters.bytesIn.Add(uint64(ev.n))
	data := (*ev.buf)[:ev.n]
	if len(c.pending) > 0 {
		c.pending = append(c.pending, data...)
		c.putBuf(ev)
		c.pending = c.keep(c.consume(c.pending), c.pending)
		return
	}
	c.scan = transport.ScanState{}
	if rest := c.consume(data); len(rest) > 0 {
		c.pending = c.keep(rest, c.pending)
	}
	c.putBuf(ev)
}

func (c *conn) putBuf(ev *readEvent) {
	if b := ev.buf; b != nil { // a nil in the pool would be every reader's panic
		bufPool.Put(b)
	}
	ev.buf, ev.n = nil, 0
}

// keep moves the unconsumed tail rest of buf to its front. A buffer grown
// for a large frame is let go once that frame is delivered: what is left
// moves to a buffer of its own size. rest starts a frame, and c.scan is
// relative to that start, so it holds wherever the bytes go.
func (c *conn) keep(rest, buf []byte) []byte {
	switch {
	case len(rest) > 0 && len(rest) == len(buf) && &rest[0] == &buf[0]:
		return buf // nothing was consumed: it is in place already
	case cap(buf) <= readBufSize:
		return append(buf[:0], rest...)
	case len(rest) == 0:
		return nil
	case len(rest) <= cap(buf)/4:
		return append([]byte(nil), rest...)
	}
	return append(buf[:0], rest...)
}

// wants reports whether the handler wants frames now.
func (c *conn) wants() bool { return !c.passive || c.recvWant }

// takes reports whether the connection reads frames now: the handler
// wants them, and its write queue is not over the high mark (or
// back-pressure is off).
func (c *conn) takes() bool { return c.wants() && !c.paused() }

// consume delivers frames from data while the handler wants them and
// returns the bytes left over. data starts the frame c.scan describes:
// c.pending, or fresh bytes with nothing pending. With a Resumer, c.scan
// is kept when that frame is incomplete and cleared when it is complete
// or fails, so each frame's bytes are scanned once however many reads it
// takes. (A passivated connection does not keep it: once woken, it scans
// its pending frame once again from the start.)
func (c *conn) consume(data []byte) []byte {
	framer, max := c.g.socket.Framer, c.g.socket.MaxFrame
	raw := framer == rawFramer
	resumer, _ := framer.(transport.Resumer)
	var now time.Duration // the clock, read once: every frame of a read arrived together
	for len(data) > 0 && c.takes() && c.life == lifeUp && c.upgrade == nil {
		var frame []byte
		var n int
		if want := int(c.recvN); raw && c.passive && want > 0 {
			if len(data) < want {
				return data
			}
			frame, n = data[:want], want
		} else {
			var err error
			if resumer != nil {
				var next transport.ScanState
				frame, n, next, err = resumer.DecodeFrom(data, max, c.scan)
				c.scan = transport.ScanState{}
				if n == 0 && err == nil {
					c.scan = next // incomplete: resume there with more bytes
				}
			} else {
				frame, n, err = framer.Decode(data, max)
			}
			if err != nil {
				c.terminate(err)
				return nil
			}
			if n == 0 {
				return data
			}
		}
		data = data[n:]
		if now == 0 {
			now = time.Since(epoch)
		}
		c.deliver(frame, now)
	}
	return data
}

// deliver runs HandlePacket for one frame that arrived at now, counting
// it against the mode.
func (c *conn) deliver(frame []byte, now time.Duration) {
	if c.passive {
		c.clearRecv()
	} else if c.activeN > 0 {
		if c.activeN--; c.activeN == 0 {
			c.passive = true
			c.proc.passive.Store(true)
		}
	}
	c.arrivedAt(now)
	c.frameArrived(now)
	c.proc.counters.framesIn.Add(1)
	if c.tracer != nil {
		c.traceBytes(TracePacketIn, frame)
	}
	c.run(cbPacket, nil, frame)
}

// isTimeout reports whether err is a deadline's. The common case, Go's
// own deadline error, is found without errors.As, which allocates: the
// reader meets it every ParkAfter on a busy connection.
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readerStep is what the reader does after a read deadline passed.
type readerStep uint8

const (
	readOn     readerStep = iota // read again
	readerDone                   // exit, dropping the reader's reference
	readerGone                   // exit: the reference went to the poller
)
