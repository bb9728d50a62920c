package actors

import (
	"errors"
	"fmt"

	"github.com/etcp-go/etcp/registry"
)

// Sentinel errors; match them with [errors.Is].
var (
	// ErrCallbackPanic: a callback panicked; the connection ended.
	ErrCallbackPanic = errors.New("etcp: callback panicked")
	// ErrInvalidResult: a callback returned a Result it may not (a Reply
	// outside HandleCall, a Decline outside Init...).
	ErrInvalidResult = errors.New("etcp: invalid callback result")
	// ErrDeclined: Init declined the connection (etcp's ignore).
	ErrDeclined = errors.New("etcp: connection declined by init")
	// ErrClosed: the connection is closed. It is registry.ErrClosed, the
	// one sentinel of anything ended or closed (server.ErrClosed,
	// pool.ErrClosed and manage.ErrClosed are it too); the error wrapping
	// it names the connection.
	ErrClosed = registry.ErrClosed
	// ErrShutdown is the reason connections end with when their server,
	// pool or client owner stops without a reason of its own.
	ErrShutdown = errors.New("etcp: shutdown")
	// ErrWriteTimeout: the peer took no byte for the write timeout; the
	// connection was reset.
	ErrWriteTimeout = errors.New("etcp: write timeout: the peer is not reading")
	// ErrIdleTimeout: no complete frame arrived for the idle timeout
	// (WithIdleTimeout); the connection was reset.
	ErrIdleTimeout = errors.New("etcp: idle timeout: no complete frame")
	// ErrOverflow: more was sent to the connection than it may hold: more
	// bytes than its write queue's hard cap while it could not write them
	// (WithWriteQueue), or more messages than its mailbox's limit
	// (WithMailboxLimit). The send was refused and the connection reset.
	ErrOverflow = errors.New("etcp: overflow")
	// ErrWriteBlocked: a SendSync found the connection over its high
	// watermark and was told not to wait (WithWriteQueue).
	ErrWriteBlocked = errors.New("etcp: write queue over the high watermark")
	// ErrWriteClosed: something was sent to a connection after its
	// handler shut its write side down (behaviours.CloseWrite); the
	// connection ended with it.
	ErrWriteClosed = errors.New("etcp: write side closed")
)

// closedAs is ErrClosed with a text of its own: it reads as its text and
// matches ErrClosed.
type closedAs string

func (e closedAs) Error() string { return string(e) }
func (closedAs) Unwrap() error   { return ErrClosed }

// errConnClosed is ErrClosed said of a connection; the errors of this
// package wrap it rather than the bare ErrClosed.
const errConnClosed closedAs = "etcp: connection closed"

// CallbackError is the reason a connection ends with when a callback
// panics or returns an invalid Result. It names the callback.
type CallbackError struct {
	Callback string // e.g. "HandlePacket"
	Cause    any    // the panic value, or the invalid-result error
	Stack    []byte // the goroutine's stack at the panic (nil for invalid results)
}

// Error names the callback and the cause.
func (e *CallbackError) Error() string {
	if err, ok := e.Cause.(error); ok && errors.Is(err, ErrInvalidResult) {
		return fmt.Sprintf("etcp: %s: %v", e.Callback, err)
	}
	return fmt.Sprintf("etcp: %s panicked: %v", e.Callback, e.Cause)
}

// Unwrap makes errors.Is(err, ErrCallbackPanic) or ErrInvalidResult work,
// and reaches an error the callback panicked with.
func (e *CallbackError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if err, ok := e.Cause.(error); ok {
		errs = append(errs, err)
	}
	if e.Stack != nil {
		errs = append(errs, ErrCallbackPanic)
	}
	return errs
}
