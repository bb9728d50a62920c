package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// Detacher is a Conn that can give up everything but its socket while it
// waits: Detach closes the Conn, keeping the socket open as a bare file
// descriptor. A hibernating connection does this so that, while it
// sleeps, it holds no net.Conn, no runtime poller entry and no addresses.
// TCP and Unix connections are Detachers; TLS ones are not (crypto/tls
// state cannot be rebuilt from a descriptor).
type Detacher interface {
	Detach() (Detached, error)
}

// Detached is an open socket held as a bare descriptor, owned by its
// holder: it must be given back with Attach or Close, exactly once.
type Detached struct {
	fd   int32
	kind uint8
}

const (
	kindTCP uint8 = iota + 1
	kindUnix
)

// FD is the socket's descriptor, for readiness polling; it stays owned by d.
func (d Detached) FD() int { return int(d.fd) }

// Valid reports whether d holds a socket.
func (d Detached) Valid() bool { return d.kind != 0 }

// Attach makes a Conn of the socket again, with the transport it was
// detached from. The descriptor is given back whether or not it succeeds.
func (d Detached) Attach() (Conn, error) {
	if !d.Valid() {
		return nil, errors.New("etcp/transport: attach of an empty Detached")
	}
	// net.FileConn turns on TCP_NODELAY and a 15 s keep-alive, Go's
	// defaults for new connections: what the socket had is put back.
	var had SocketOptions
	if d.kind == kindTCP {
		if err := readTCPOptions(int(d.fd), &had); err != nil {
			d.Close()
			return nil, fmt.Errorf("etcp/transport: attach: %w", os.NewSyscallError("getsockopt", err))
		}
		had.ReadBuffer, had.WriteBuffer = 0, 0 // untouched: setting them again would double them
	}
	f := os.NewFile(uintptr(d.fd), "")
	nc, err := net.FileConn(f) // a duplicate registered with the runtime poller
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("etcp/transport: attach: %w", err)
	}
	switch c := nc.(type) {
	case *net.TCPConn:
		if had != DefaultSocketOptions {
			if err := control(c, func(fd int) error { return setTCPOptions(fd, had) }); err != nil {
				c.Close()
				return nil, fmt.Errorf("etcp/transport: attach: %w", err)
			}
		}
		return tcpConn{c}, nil
	case *net.UnixConn:
		return unixConn{c}, nil
	}
	nc.Close()
	return nil, fmt.Errorf("etcp/transport: attach: unexpected %T", nc)
}

// Transport names the transport the socket was detached from.
func (d Detached) Transport() string {
	switch d.kind {
	case kindTCP:
		return "tcp"
	case kindUnix:
		return "unix"
	}
	return ""
}

// Addrs reads the socket's local and peer addresses from the kernel.
func (d Detached) Addrs() (local, peer net.Addr) {
	fd := int(d.fd)
	if sa, err := syscall.Getsockname(fd); err == nil {
		local = sockaddrToAddr(sa, d.kind)
	}
	if sa, err := syscall.Getpeername(fd); err == nil {
		peer = sockaddrToAddr(sa, d.kind)
	}
	return local, peer
}

func sockaddrToAddr(sa syscall.Sockaddr, kind uint8) net.Addr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	case *syscall.SockaddrUnix:
		if kind == kindUnix {
			return &net.UnixAddr{Name: a.Name, Net: "unix"}
		}
	}
	return nil
}

// SocketOptions reads the socket's options from the kernel, as
// Conn.SocketOptions does.
func (d Detached) SocketOptions() (SocketOptions, error) {
	var s SocketOptions
	switch d.kind {
	case kindTCP:
		return s, readTCPOptions(int(d.fd), &s)
	case kindUnix:
		return s, readBuffers(int(d.fd), &s)
	}
	return s, errors.New("etcp/transport: socket options of an empty Detached")
}

// SetSocketOptions sets the socket's options, as Conn.SetSocketOptions
// does (Unix sockets take the buffer sizes only).
func (d Detached) SetSocketOptions(s SocketOptions) error {
	switch d.kind {
	case kindTCP:
		return setTCPOptions(int(d.fd), s)
	case kindUnix:
		return setBufferOptions(int(d.fd), s)
	}
	return errors.New("etcp/transport: socket options of an empty Detached")
}

// Close closes the socket.
func (d Detached) Close() error {
	if !d.Valid() {
		return nil
	}
	return os.NewSyscallError("close", syscall.Close(int(d.fd)))
}

func (c tcpConn) Detach() (Detached, error)  { return detach(c.TCPConn, kindTCP) }
func (c unixConn) Detach() (Detached, error) { return detach(c.UnixConn, kindUnix) }

// detach duplicates c's descriptor, then closes c: the socket stays open
// through the duplicate (close(2) of one descriptor of several neither
// shuts the socket down nor resets it).
func detach(c interface {
	syscall.Conn
	Close() error
}, kind uint8) (Detached, error) {
	var fd int
	err := control(c, func(orig int) error {
		var e error
		fd, e = dupCloexec(orig)
		return e
	})
	if err != nil {
		return Detached{}, fmt.Errorf("etcp/transport: detach: %w", err)
	}
	c.Close()
	return Detached{fd: int32(fd), kind: kind}, nil
}

func dupCloexec(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, os.NewSyscallError("fcntl", errno)
	}
	return int(r), nil
}
