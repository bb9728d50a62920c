package poll

import (
	"errors"
	"time"
)

// Waiter is what waits on a [Poller].
type Waiter interface {
	// Ready runs once per registration when its socket becomes readable
	// or the poller fails, on the poller's goroutine, outside the
	// poller's lock: it may register again (Add) and do short work, but
	// every other registration waits while it runs. Work that may block
	// calls [Poller.Handoff] first.
	Ready()
}

// Key identifies one registration; it is never zero.
type Key uint64

// ErrUnsupported: this system has no poller.
var ErrUnsupported = errors.New("etcp/poll: no poller on this system")

// DefaultLinger is how long a poller's goroutine waits with nothing
// registered before it ends: connections that park and wake in quick
// succession keep one goroutine instead of making one each time.
const DefaultLinger = 100 * time.Millisecond
