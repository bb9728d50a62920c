//go:build !linux

package poll

import "time"

// Poller is unavailable here: Add always fails.
type Poller struct {
	// OnError is never called here.
	OnError func(error)
}

// New returns a poller that registers nothing.
func New(time.Duration) *Poller { return &Poller{} }

// Add fails with ErrUnsupported.
func (*Poller) Add(int, Waiter) (Key, error) { return 0, ErrUnsupported }

// AddNew fails with ErrUnsupported.
func (*Poller) AddNew(int, Waiter) (Key, error) { return 0, ErrUnsupported }

// AddWritable fails with ErrUnsupported.
func (*Poller) AddWritable(int, Waiter) (Key, error) { return 0, ErrUnsupported }

// Watch fails with ErrUnsupported.
func (*Poller) Watch(int, Waiter) (Key, error) { return 0, ErrUnsupported }

// Rearm reports gone.
func (*Poller) Rearm(Key) (ready, gone bool) { return false, true }

// RearmCheck reports gone.
func (*Poller) RearmCheck(int, Key) (gone bool, err error) { return true, nil }

// Remove reports false.
func (*Poller) Remove(int, Key) bool { return false }

// Handoff does nothing.
func (*Poller) Handoff() {}

// Len is 0.
func (*Poller) Len() int { return 0 }

// Running is false.
func (*Poller) Running() bool { return false }

// Supported is true where a Poller registers sockets.
const Supported = false
