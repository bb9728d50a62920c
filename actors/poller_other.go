//go:build !linux

package actors

// Elsewhere there is no shared poller: idle readers stay parked in their
// goroutine, and hibernation only gives back buffers.

type poller struct{}

var sharedPoller = &poller{}

const canPark = false

type pollee interface{ ready() }

func (*poller) park(int, pollee, *uint64) bool         { return false }
func (*poller) unpark(int, bool, pollee, *uint64) bool { return false }
