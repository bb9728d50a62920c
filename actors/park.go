package actors

import "time"

// Parking: a connection whose reader has waited ParkAfter with nothing to
// read, or that hibernates, gives up its reader goroutine and waits on
// the shared poller instead (poller.go), which starts a fresh reader when
// bytes or a close arrive. Only sockets read through syscall.RawConn park.
//
// An idle wait is noticed with the socket's read deadline, armed once and
// looked at only when it fires: if the reader read anything since it was
// armed, the connection is busy and the deadline is re-armed; if not, it
// has been idle at least ParkAfter and parks. A busy connection pays one
// counter increment per read and one deadline per ParkAfter, no clock
// read. The deadline belongs to the reader in active mode and to the
// actor in passive mode (Recv timeouts); dlMu and parkable keep the two
// from overwriting each other.

// DefaultParkAfter is how long an active connection's reader waits for
// bytes in its own goroutine before parking on the shared poller.
const DefaultParkAfter = 10 * time.Millisecond

// parkAfter is the connection's idle window before parking (<= 0: never).
func (c *Conn) parkAfter() time.Duration {
	if c.cfg.ParkAfter == 0 {
		return DefaultParkAfter
	}
	return c.cfg.ParkAfter
}

// updateParkable recomputes whether the reader may manage the read
// deadline (actor only; after a mode or socket change).
func (c *Conn) updateParkable() {
	p := canPark && c.raw != nil && !c.passive && c.parkAfter() > 0
	if p == c.parkable.Load() {
		return
	}
	c.dlMu.Lock()
	c.parkable.Store(p)
	if !p && c.parkArmed.Swap(false) {
		c.sock.SetReadDeadline(time.Time{})
	}
	c.dlMu.Unlock()
}

// armParkDeadline arms the idle deadline if it is not armed (reader only).
func (c *Conn) armParkDeadline() {
	if !c.parkable.Load() || c.parkArmed.Load() {
		return
	}
	c.dlMu.Lock()
	if c.parkable.Load() {
		c.parkArmed.Store(true)
		c.readsSinceArm = 0
		c.sock.SetReadDeadline(time.Now().Add(c.parkAfter()))
	}
	c.dlMu.Unlock()
}

// timeoutAction is what the reader does when its read deadline passes.
type timeoutAction uint8

const (
	timeoutNotOurs timeoutAction = iota // a passive Recv's: tell the actor
	timeoutBusy                         // the idle deadline, but bytes came: read on
	timeoutParked                       // idle or hibernating: parked
)

// onReadDeadline handles a read deadline (reader only).
func (c *Conn) onReadDeadline() timeoutAction {
	c.dlMu.Lock()
	switch {
	case c.parkable.Load() && !c.parkReq.Load() && c.readsSinceArm > 0:
		c.readsSinceArm = 0
		c.sock.SetReadDeadline(time.Now().Add(c.parkAfter()))
		c.dlMu.Unlock()
		return timeoutBusy
	case c.parkable.Load() || c.parkReq.Load():
		c.parkArmed.Store(false)
		c.sock.SetReadDeadline(time.Time{})
		c.dlMu.Unlock()
		if c.park() {
			return timeoutParked
		}
		return timeoutBusy
	}
	c.dlMu.Unlock()
	return timeoutNotOurs
}

// park hands the reader's socket to the shared poller (reader only),
// first clearing the deadline a hibernation kick may have set. A reader
// kicked by hibernation then nudges the actor, which passivates once it
// is idle (passivate.go).
func (c *Conn) park() bool {
	c.dlMu.Lock()
	kicked := c.parkReq.Swap(false)
	if kicked {
		c.parkArmed.Store(false)
		c.sock.SetReadDeadline(time.Time{})
	}
	c.dlMu.Unlock()
	parked := false
	if err := c.raw.Control(func(fd uintptr) { parked = sharedPoller.park(int(fd), c, &c.parkTok) }); err != nil {
		return false
	}
	if !parked {
		return false
	}
	if c.evState.Load() == evClosed {
		// The connection ended meanwhile; terminate closes the reader
		// before it unparks, so one of us takes the registration back.
		return !c.unpark(false)
	}
	if kicked {
		c.mb.postNudge()
	}
	return true
}

// ready is the poller's call: bytes or a close arrived, read them.
func (c *Conn) ready() { c.reader() }

// unpark takes a parked reader off the poller, reporting whether it was
// there (the caller then holds the reader's reference). always: see
// poller.unpark.
func (c *Conn) unpark(always bool) bool {
	if c.raw == nil {
		return false
	}
	found := false
	if err := c.raw.Control(func(fd uintptr) { found = sharedPoller.unpark(int(fd), always, c, &c.parkTok) }); err != nil {
		found = sharedPoller.unpark(-1, false, c, &c.parkTok)
	}
	return found
}

// kickReader makes a reader waiting in its goroutine park now (actor
// only, on hibernation).
func (c *Conn) kickReader() {
	if c.raw == nil || !c.readerOn.Load() || c.recvTimed {
		return // a timed passive read keeps its deadline
	}
	c.dlMu.Lock()
	c.parkReq.Store(true)
	c.sock.SetReadDeadline(time.Unix(1, 0))
	c.dlMu.Unlock()
}

// unparkForEnd takes a parked connection off the poller when it ends,
// dropping the reference the parked reader held.
func (c *Conn) unparkForEnd() {
	if c.unpark(false) {
		c.unref()
	}
}
