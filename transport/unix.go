package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Unix returns the transport for Unix domain stream sockets; addresses are
// socket paths (or "@name" for Linux's abstract namespace). Listen replaces
// a stale socket file that nothing listens on, but never a live socket or a
// file of another kind; Close removes the file. NoDelay and KeepAlive do not
// apply and read back as zero; buffer sizes do apply.
func Unix() Transport { return unixTransport{} }

type unixTransport struct{}

// staleProbe bounds the connect that tells a stale socket file from a live
// one: a live listener with a full queue makes connect wait.
const staleProbe = 100 * time.Millisecond

func (unixTransport) Name() string { return "unix" }

func (unixTransport) Listen(ctx context.Context, addr string, o *Options) (Listener, error) {
	o, err := o.orDefaults()
	if err != nil {
		return nil, err
	}
	if err := removeStale(ctx, addr); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", addr)
	if err != nil {
		return nil, opError("listen unix", addr, err)
	}
	ul := ln.(*net.UnixListener)
	if err := setBacklog(ul, o.Backlog); err != nil {
		ul.Close()
		return nil, err
	}
	return &unixListener{UnixListener: ul, opts: o.Socket}, nil
}

// removeStale removes the socket file at path when connecting to it is
// refused, that is, when its listener is gone. A live socket is an error
// wrapping [syscall.EADDRINUSE]; anything else is left for listen to judge.
func removeStale(ctx context.Context, path string) error {
	if path == "" || path[0] == '@' {
		return nil
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil
	}
	d := net.Dialer{Timeout: staleProbe}
	c, err := d.DialContext(ctx, "unix", path)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("etcp/transport: listen unix %s: a live socket: %w", path, syscall.EADDRINUSE)
	case errors.Is(err, syscall.ECONNREFUSED):
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("etcp/transport: listen unix %s: remove stale socket: %w", path, err)
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("etcp/transport: listen unix %s: a live, busy socket: %w", path, syscall.EADDRINUSE)
	}
	return nil
}

func (unixTransport) Dial(ctx context.Context, addr string, o *Options) (Conn, error) {
	o, err := o.orDefaults()
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, opError("dial unix", addr, err)
	}
	uc := unixConn{c.(*net.UnixConn)}
	if err := uc.SetSocketOptions(o.Socket); err != nil {
		uc.Close()
		return nil, err
	}
	return uc, nil
}

type unixListener struct {
	*net.UnixListener
	opts SocketOptions
}

func (l *unixListener) Accept() (Conn, error) {
	c, err := l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	uc := unixConn{c}
	if err := uc.SetSocketOptions(l.opts); err != nil {
		uc.Close()
		return nil, err
	}
	return uc, nil
}

// unixConn is a *net.UnixConn with the Conn extras; embedding keeps
// SyscallConn visible, as for TCP. It is used as a value, as tcpConn is.
type unixConn struct{ *net.UnixConn }

func (unixConn) Handshake(context.Context) error { return nil }
func (unixConn) Transport() string               { return "unix" }

// SetSocketOptions applies the buffer sizes; NoDelay and KeepAlive do not
// apply to Unix sockets and are ignored.
func (c unixConn) SetSocketOptions(s SocketOptions) error { return setBuffers(c.UnixConn, s) }

func (c unixConn) SocketOptions() (SocketOptions, error) {
	var s SocketOptions
	err := control(c.UnixConn, func(fd int) error { return readBuffers(fd, &s) })
	return s, err
}
