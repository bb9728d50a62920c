package actors

import (
	"net"
	"os"
	"syscall"

	"github.com/etcp-go/etcp/actors/internal/poll"
)

// The event loop's writer: a loop connection's backlog is written by its
// event loop when the socket can take bytes again (EPOLLOUT), with no
// goroutine, as gnet and Netty do. The socket's descriptor is watched for
// reads already (a descriptor has one registration per epoll instance),
// so the writer registers a duplicate of it, one-shot, for writability,
// for as long as the backlog lasts. Each time the loop runs it, it writes
// what the socket takes without waiting and registers again while bytes
// are left; the watchdog (flusher.go) ends it when the peer takes nothing
// for the write timeout or the owner forces a stop.
//
// Who runs the writer's next step is decided by its registration, as for
// a parked reader: the loop, which took it to run Ready, or whoever took
// it back with Remove first (the watchdog, or the actor ending the
// connection at once). The outbox's lock guards the key and the verdict.

// loopWriter writes one backlog of a loop connection from its event loop.
type loopWriter struct {
	c   *conn
	l   *loopConn
	p   *poll.Poller
	dup int // a duplicate of the socket's descriptor, registered for writability
	wd  *watchdog
	// Guarded by the outbox's lock: the registration waiting (0 while its
	// Ready runs or once it ended), and why it must stop (the watchdog's
	// verdict).
	key  poll.Key
	stop error
}

// startLoopWriter makes the event loop write the backlog just made,
// reporting false if it cannot (the flusher goroutine does then) (actor,
// in wsFlushing).
func (c *conn) startLoopWriter(l *loopConn) bool {
	if !l.acquire() {
		return false
	}
	dup, err := dupCloexec(l.fd)
	l.release()
	if err != nil {
		return false
	}
	w := &loopWriter{c: c, l: l, p: c.proc.poller(), dup: dup}
	w.wd = c.startWatchdog(l, func() { go w.interrupt() })
	c.refs.Add(1)
	ob := c.ob
	ob.mu.Lock()
	defer ob.mu.Unlock()
	k, err := w.p.AddWritable(dup, w)
	if err != nil {
		w.wd.stop()
		syscall.Close(dup)
		c.unref()
		return false
	}
	w.key, ob.lw = k, w
	return true
}

// Ready writes what the socket takes of the backlog (poller, or a
// goroutine of the watchdog's once it took the registration back).
func (w *loopWriter) Ready() {
	c, ob := w.c, w.c.ob
	ob.mu.Lock()
	w.key = 0
	if ob.st.load() == wsClosed { // the connection ended at once: the actor closed the socket
		ob.mu.Unlock()
		w.end()
		return
	}
	err := w.stop
	if err == nil {
		err = w.write()
	}
	if err == nil && ob.head < len(ob.buf) { // bytes left: wait for room again
		k, aerr := w.p.AddWritable(w.dup, w)
		if aerr == nil {
			w.key = k
			ob.mu.Unlock()
			return
		}
		err = aerr
	}
	if err != nil {
		ob.mu.Unlock()
		c.failWrite(w.l, err)
		w.end()
		return
	}
	closing, resetAfter := ob.drained(c) // the backlog is written
	if closing && resetAfter {
		// Waiting for the peer's acknowledgements may take a while: off
		// the loop.
		go func() {
			c.finishClose(w.l, w.wd, true)
			w.end()
		}()
		return
	}
	if closing {
		c.closeWrite(w.l)
	}
	w.end()
}

// write writes what the socket takes of the backlog, without waiting
// (the outbox locked).
func (w *loopWriter) write() error {
	c, ob := w.c, w.c.ob
	if !w.l.acquire() {
		return net.ErrClosed
	}
	n, err := writeNow(w.l.fd, ob.buf[ob.head:])
	w.l.release()
	ob.wrote(c, n)
	return err
}

// interrupt ends the writer on the watchdog's verdict: the peer took
// nothing for the write timeout, or the owner forces its connections to
// end (a goroutine of the watchdog's).
func (w *loopWriter) interrupt() {
	ob := w.c.ob
	ob.mu.Lock()
	if w.stop != nil {
		ob.mu.Unlock()
		return
	}
	w.stop = os.ErrDeadlineExceeded // forced: the connection ends with its owner's reason
	if w.wd.stalled.Load() && !w.c.g.forced.Load() {
		w.stop = w.c.stallError(os.ErrDeadlineExceeded)
	}
	owned := w.key != 0 && w.p.Remove(w.dup, w.key)
	if owned {
		w.key = 0
	}
	ob.mu.Unlock()
	if owned {
		w.Ready() // the loop will not: the verdict is carried out here
	}
}

// cancel takes the writer's registration back as the connection ends at
// once, reporting whether it did: the writer then ends here, else its
// Ready, on its way, sees the end (actor, the outbox locked, in wsClosed).
func (w *loopWriter) cancel() bool {
	if w.key == 0 || !w.p.Remove(w.dup, w.key) {
		return false
	}
	w.key = 0
	return true
}

// end lets the writer go: its watchdog, its registration and its
// duplicate descriptor.
func (w *loopWriter) end() {
	w.wd.stop()
	w.p.Remove(w.dup, 0) // leaves the epoll set before its descriptor closes
	syscall.Close(w.dup)
	w.c.unref()
}

// dupCloexec duplicates fd, close-on-exec.
func dupCloexec(fd int) (int, error) {
	nfd, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, os.NewSyscallError("fcntl", e)
	}
	return int(nfd), nil
}
