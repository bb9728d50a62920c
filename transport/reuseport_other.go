//go:build !linux

package transport

import (
	"fmt"
	"syscall"
)

// reusePort is supported on Linux only.
func reusePort(string, string, syscall.RawConn) error {
	return fmt.Errorf("%w: ReusePort is supported on Linux only", ErrInvalidOptions)
}
