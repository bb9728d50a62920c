package transport

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// TCP returns the plain TCP transport.
func TCP() Transport { return tcpTransport{} }

type tcpTransport struct{}

func (tcpTransport) Name() string { return "tcp" }

func (tcpTransport) Listen(ctx context.Context, addr string, o *Options) (Listener, error) {
	o, err := o.orDefaults()
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	if o.ReusePort {
		lc.Control = reusePort
	}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, opError("listen tcp", addr, err)
	}
	tl := ln.(*net.TCPListener)
	if err := setBacklog(tl, o.Backlog); err != nil {
		tl.Close()
		return nil, err
	}
	return &tcpListener{TCPListener: tl, opts: o.Socket}, nil
}

func (tcpTransport) Dial(ctx context.Context, addr string, o *Options) (Conn, error) {
	o, err := o.orDefaults()
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, opError("dial tcp", addr, err)
	}
	tc := tcpConn{c.(*net.TCPConn)}
	if err := tc.setOptions(o.Socket); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// setBacklog calls listen(2) again with the wanted queue length: Linux
// updates the backlog of a listening socket in place, and net.Listen
// always uses the system maximum.
func setBacklog(l syscall.Conn, backlog int) error {
	rc, err := l.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	if lerr != nil {
		return fmt.Errorf("etcp/transport: set backlog %d: %w", backlog, lerr)
	}
	return nil
}

type tcpListener struct {
	*net.TCPListener
	opts SocketOptions
}

func (l *tcpListener) Accept() (Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	tc := tcpConn{c}
	if err := tc.setOptions(l.opts); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// setOptions sets s on a new socket, unless s is what Go's net package
// already set on it (TCP_NODELAY, keep-alive every 15 s): five system
// calls saved per connection with the defaults.
func (c tcpConn) setOptions(s SocketOptions) error {
	if s == DefaultSocketOptions {
		return nil
	}
	return c.SetSocketOptions(s)
}

// tcpConn is a *net.TCPConn with the Conn extras. Embedding keeps
// SyscallConn visible, so the connection actor can park reads on readiness.
// It is used as a value: a struct of one pointer is stored in an interface
// as is, so wrapping a socket costs no allocation.
type tcpConn struct{ *net.TCPConn }

func (tcpConn) Handshake(context.Context) error { return nil }
func (tcpConn) Transport() string               { return "tcp" }

func (c tcpConn) SetSocketOptions(s SocketOptions) error {
	if err := c.SetNoDelay(s.NoDelay); err != nil {
		return err
	}
	if s.KeepAlive > 0 {
		if err := c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: s.KeepAlive, Interval: s.KeepAlive}); err != nil {
			return err
		}
	} else if err := c.SetKeepAlive(false); err != nil {
		return err
	}
	return setBuffers(c.TCPConn, s)
}

func (c tcpConn) SocketOptions() (SocketOptions, error) {
	var s SocketOptions
	err := control(c.TCPConn, func(fd int) error { return readTCPOptions(fd, &s) })
	return s, err
}

// readTCPOptions reads a TCP socket's options from the kernel.
func readTCPOptions(fd int, s *SocketOptions) error {
	nodelay, err := syscall.GetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
	if err != nil {
		return err
	}
	s.NoDelay = nodelay != 0
	ka, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	if err != nil {
		return err
	}
	if ka != 0 {
		idle, err := syscall.GetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
		if err != nil {
			return err
		}
		s.KeepAlive = time.Duration(idle) * time.Second
	}
	return readBuffers(fd, s)
}

// setTCPOptions sets a TCP socket's options as SetSocketOptions does, on
// a bare descriptor.
func setTCPOptions(fd int, s SocketOptions) error {
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, boolInt(s.NoDelay)); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, boolInt(s.KeepAlive > 0)); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if s.KeepAlive > 0 {
		secs := max(int(s.KeepAlive/time.Second), 1)
		for _, opt := range []int{syscall.TCP_KEEPIDLE, syscall.TCP_KEEPINTVL} {
			if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, opt, secs); err != nil {
				return os.NewSyscallError("setsockopt", err)
			}
		}
	}
	return setBufferOptions(fd, s)
}

// setBufferOptions sets the buffer sizes on a bare descriptor.
func setBufferOptions(fd int, s SocketOptions) error {
	if s.ReadBuffer > 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, s.ReadBuffer); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if s.WriteBuffer > 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, s.WriteBuffer); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bufferSetter is what *net.TCPConn and *net.UnixConn share.
type bufferSetter interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

func setBuffers(c bufferSetter, s SocketOptions) error {
	if s.ReadBuffer > 0 {
		if err := c.SetReadBuffer(s.ReadBuffer); err != nil {
			return err
		}
	}
	if s.WriteBuffer > 0 {
		return c.SetWriteBuffer(s.WriteBuffer)
	}
	return nil
}

func readBuffers(fd int, s *SocketOptions) error {
	var err error
	if s.ReadBuffer, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF); err != nil {
		return err
	}
	s.WriteBuffer, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	return err
}

// control runs f on the socket's descriptor.
func control(c syscall.Conn, f func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
