package actors

import (
	"context"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/etcp-go/etcp/transport"
)

var (
	_ transport.Conn     = (*loopConn)(nil)
	_ transport.Detacher = (*loopConn)(nil)
	_ syscall.Conn       = (*loopConn)(nil)
)

// loopWaitSlice bounds one poll(2) wait of a blocked loopConn write.
const loopWaitSlice = 20 * time.Millisecond

// loopConn is the event loop's connection type (eventloop.go): a socket
// held as a bare non-blocking descriptor, out of Go's netpoller.
//
// A write to a loopConn waits for the peer with poll(2), in slices of at
// most loopWaitSlice, so that its deadline (the write timeout, or the
// kick of Force and of the write queue's overflow) is seen within one.
// StartTLS gives the socket back to Go's netpoller for good (TLS reads
// through crypto/tls), as does nothing else.
type loopConn struct {
	d           transport.Detached
	fd          int
	local, peer net.Addr
	wdl         atomic.Int64 // write deadline, Unix nanoseconds; 0: none (set from any goroutine)
	c           *conn
	handed      bool // a turn on the poller's goroutine handed the poller off (see mayBlock)

	// use counts the reader's uses of the descriptor (by 2) and marks it
	// closed (bit 0). The loop reader reads and registers the socket while
	// the actor may end the connection from another goroutine; Close then
	// leaves the close(2) to the use in flight, so that no reader ever
	// reads or registers a descriptor number the kernel has meanwhile given
	// to another socket (Go's own poll.FD does the same with its fdMutex).
	use atomic.Int32
}

// acquire takes a use of the descriptor, or reports false if it is closed.
func (l *loopConn) acquire() bool {
	for {
		v := l.use.Load()
		if v&1 != 0 {
			return false
		}
		if l.use.CompareAndSwap(v, v+2) {
			return true
		}
	}
}

// release ends a use; the last one after Close closes the descriptor.
func (l *loopConn) release() {
	if l.use.Add(-2) == 1 {
		l.d.Close()
	}
}

// Read reads what is there, waiting in poll(2) if nothing is.
func (l *loopConn) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(l.fd, b)
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			if err := l.wait(pollIn, 0); err != nil {
				return 0, err
			}
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		default:
			return n, nil
		}
	}
}

// Write writes all of b, waiting until the peer takes more or the write
// deadline passes. Only the flusher calls it, off the poller's goroutine:
// the actor writes what the socket takes at once (tryWrite).
func (l *loopConn) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := syscall.Write(l.fd, b[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == nil, err == syscall.EINTR:
		case err == syscall.EAGAIN:
			if err := l.wait(pollOut, l.wdl.Load()); err != nil {
				return done, err
			}
		default:
			return done, os.NewSyscallError("write", err)
		}
	}
	return done, nil
}

// wait waits until the socket is ready for ev, or the deadline (Unix
// nanoseconds, read again each slice; 0: none) passes.
func (l *loopConn) wait(ev int16, deadline int64) error {
	for {
		slice := loopWaitSlice
		if deadline != 0 {
			left := time.Duration(deadline - time.Now().UnixNano())
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			slice = min(slice, left)
		}
		fds := [1]pollFd{{fd: int32(l.fd), events: ev}}
		n, err := sysPoll(fds[:], int((slice+time.Millisecond-1)/time.Millisecond))
		switch {
		case err == syscall.EINTR:
		case err != nil:
			return os.NewSyscallError("poll", err)
		case n > 0:
			return nil // ready, or an error or hang-up the next call reports
		}
		if ev == pollOut {
			deadline = l.wdl.Load() // a kick moves it to the past
		}
	}
}

// Close closes the descriptor, at once or when the reader's use ends.
func (l *loopConn) Close() error {
	for {
		v := l.use.Load()
		if v&1 != 0 {
			return nil
		}
		if l.use.CompareAndSwap(v, v|1) {
			if v == 0 {
				return l.d.Close()
			}
			return nil // the use in flight closes it
		}
	}
}

func (l *loopConn) LocalAddr() net.Addr { return l.local }

func (l *loopConn) RemoteAddr() net.Addr { return l.peer }

func (l *loopConn) CloseWrite() error {
	return os.NewSyscallError("shutdown", syscall.Shutdown(l.fd, syscall.SHUT_WR))
}

// SetDeadline sets the write deadline: reads never wait on a loopConn
// but in Read, which the connection does not use.
func (l *loopConn) SetDeadline(t time.Time) error { return l.SetWriteDeadline(t) }

// SetReadDeadline does nothing: no goroutine waits in a read to be kicked.
func (l *loopConn) SetReadDeadline(time.Time) error { return nil }

func (l *loopConn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = max(t.UnixNano(), 1)
	}
	l.wdl.Store(ns)
	return nil
}

func (l *loopConn) Handshake(context.Context) error { return nil }

func (l *loopConn) Transport() string { return l.d.Transport() }

func (l *loopConn) SocketOptions() (transport.SocketOptions, error) {
	return l.d.SocketOptions()
}

func (l *loopConn) SetSocketOptions(s transport.SocketOptions) error {
	return l.d.SetSocketOptions(s)
}

// SetLinger is what reset uses to end a connection with a reset.
func (l *loopConn) SetLinger(sec int) error {
	return os.NewSyscallError("setsockopt", syscall.SetsockoptLinger(l.fd, syscall.SOL_SOCKET, syscall.SO_LINGER,
		&syscall.Linger{Onoff: 1, Linger: int32(sec)}))
}

// Detach gives the descriptor to passivation, as is.
func (l *loopConn) Detach() (transport.Detached, error) { return l.d, nil }

func (l *loopConn) SyscallConn() (syscall.RawConn, error) { return loopRaw{l}, nil }

// loopRaw is a loopConn as a syscall.RawConn.
type loopRaw struct{ l *loopConn }

func (r loopRaw) Control(f func(uintptr)) error { f(uintptr(r.l.fd)); return nil }

func (r loopRaw) Read(f func(uintptr) bool) error {
	for !f(uintptr(r.l.fd)) {
		if err := r.l.wait(pollIn, 0); err != nil {
			return err
		}
	}
	return nil
}

func (r loopRaw) Write(f func(uintptr) bool) error {
	for !f(uintptr(r.l.fd)) {
		if err := r.l.wait(pollOut, r.l.wdl.Load()); err != nil {
			return err
		}
	}
	return nil
}

// pollFd is struct pollfd of poll(2).
type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const (
	pollIn  = 0x1 // POLLIN
	pollOut = 0x4 // POLLOUT
)

func sysPoll(fds []pollFd, ms int) (int, error) {
	n, _, e := syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(ms))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
