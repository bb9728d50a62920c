//go:build !linux

package actors

// Elsewhere there is no shared poller: idle readers stay parked in their
// goroutine, and hibernation only gives back buffers.

type poller struct{}

var sharedPoller = &poller{}

const canPark = false

func (*poller) park(*Conn) bool   { return false }
func (*poller) unpark(*Conn) bool { return false }
