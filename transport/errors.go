package transport

import "errors"

// Sentinel errors; match them with [errors.Is].
var (
	// ErrFrameTooLarge: a frame announced or reached more than the maximum
	// frame size. The connection ends; the announced size is never allocated.
	ErrFrameTooLarge = errors.New("etcp/transport: frame too large")
	// ErrBadFrame: the bytes cannot be a frame of this framing.
	ErrBadFrame = errors.New("etcp/transport: malformed frame")
	// ErrInvalidOptions: an [Options] value failed [Options.Validate].
	ErrInvalidOptions = errors.New("etcp/transport: invalid options")
	// ErrUnsupported: the transport cannot do what was asked.
	ErrUnsupported = errors.New("etcp/transport: unsupported")
)
