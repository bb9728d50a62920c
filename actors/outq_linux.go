package actors

import (
	"syscall"
	"unsafe"
)

// siocoutq is SIOCOUTQ (TIOCOUTQ): the bytes of a socket's send queue
// its peer has not acknowledged (TCP), or not yet read (Unix).
const siocoutq = 0x5411

// outq reads fd's SIOCOUTQ.
func outq(fd int) (int, bool) {
	var n int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), siocoutq, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0, false
	}
	return int(n), true
}
