package transport

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Sentinel errors; match them with [errors.Is].
var (
	// ErrFrameTooLarge: a frame announced or reached more than the maximum
	// frame size. The connection ends; the announced size is never allocated.
	ErrFrameTooLarge = errors.New("etcp/transport: frame too large")
	// ErrBadFrame: the bytes cannot be a frame of this framing.
	ErrBadFrame = errors.New("etcp/transport: malformed frame")
	// ErrInvalidOptions: a bad option or argument: an [Options] value that
	// failed [Options.Validate], or a bad option given to a server, client
	// or pool. It is the one sentinel of invalid options: actors, server,
	// client and pool re-export it as their ErrInvalidOptions, so
	// errors.Is(err, transport.ErrInvalidOptions) and
	// errors.Is(err, server.ErrInvalidOptions) hold for the same error. An
	// error wrapping it says "invalid options" once, however many layers
	// it went through.
	ErrInvalidOptions = errors.New("etcp: invalid options")
	// ErrUnsupported: the transport cannot do what was asked.
	ErrUnsupported = errors.New("etcp/transport: unsupported")
)

// opError is err of op ("dial tcp", "listen unix") on addr, saying the
// package prefix, the op and the address once: an error of this package
// already has them all, and a *net.OpError names the op and the address.
func opError(op, addr string, err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "etcp/transport: ") {
		return err
	}
	var oe *net.OpError
	if strings.Contains(msg, addr) || errors.As(err, &oe) && oe.Addr != nil {
		return fmt.Errorf("etcp/transport: %w", err)
	}
	return fmt.Errorf("etcp/transport: %s %s: %w", op, addr, err)
}
