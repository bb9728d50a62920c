package behaviours

import "errors"

// Sentinel errors; match them with [errors.Is].
var (
	// ErrUnhandledCall is the reply [Base] gives to a call the handler does
	// not handle.
	ErrUnhandledCall = errors.New("etcp: unhandled call")
	// ErrReadTimeout is the reason [Base] stops with when a passive read
	// times out.
	ErrReadTimeout = errors.New("etcp: socket read timed out")
)
