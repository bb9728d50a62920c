package transport

import "syscall"

// reusePort sets SO_REUSEPORT (15 on Linux; the syscall package does not
// name it) on a socket about to listen.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf, 1)
	}); err != nil {
		return err
	}
	return serr
}
