package actors

import "time"

// Parking: a connection whose reader has waited ParkAfter with nothing to
// read, or that hibernates, gives up its reader goroutine and waits on
// the shared poller instead (poller.go), which starts a fresh reader when
// bytes or a close arrive. Only sockets read through syscall.RawConn park.
//
// An idle wait is noticed with the socket's read deadline, re-armed at
// most every ParkAfter/2, so a busy connection pays one clock read per
// read. The deadline belongs to the reader in active mode and to the
// actor in passive mode (Recv timeouts); dlMu and parkable keep the two
// from overwriting each other.

// DefaultParkAfter is how long an active connection's reader waits for
// bytes in its own goroutine before parking on the shared poller.
const DefaultParkAfter = 200 * time.Millisecond

// updateParkable recomputes whether the reader may manage the read
// deadline (actor only; after a mode or socket change).
func (c *Conn) updateParkable() {
	p := canPark && c.raw != nil && !c.passive && c.parkAfter > 0
	if p == c.parkable.Load() {
		return
	}
	c.dlMu.Lock()
	c.parkable.Store(p)
	if !p && c.parkDeadline.Load() != 0 {
		c.parkDeadline.Store(0)
		c.sock.SetReadDeadline(time.Time{})
	}
	c.dlMu.Unlock()
}

// armParkDeadline keeps the idle deadline between ParkAfter/2 and
// ParkAfter ahead (reader only).
func (c *Conn) armParkDeadline() {
	if !c.parkable.Load() {
		return
	}
	now := time.Now()
	if time.Duration(c.parkDeadline.Load()-now.UnixNano()) > c.parkAfter/2 {
		return
	}
	c.dlMu.Lock()
	if c.parkable.Load() {
		dl := now.Add(c.parkAfter)
		c.parkDeadline.Store(dl.UnixNano())
		c.sock.SetReadDeadline(dl)
	}
	c.dlMu.Unlock()
}

// parkOnTimeout handles a read deadline (reader only): when it was the
// idle deadline or a hibernation kick, the reader parks.
func (c *Conn) parkOnTimeout() bool {
	c.dlMu.Lock()
	ours := c.parkable.Load() || c.parkReq.Load()
	if ours {
		c.parkDeadline.Store(0)
		c.sock.SetReadDeadline(time.Time{})
	}
	c.dlMu.Unlock()
	return ours && c.park()
}

// park hands the reader's socket to the shared poller (reader only),
// first clearing the deadline a hibernation kick may have set.
func (c *Conn) park() bool {
	c.dlMu.Lock()
	if c.parkReq.Swap(false) {
		c.parkDeadline.Store(0)
		c.sock.SetReadDeadline(time.Time{})
	}
	c.dlMu.Unlock()
	return sharedPoller.park(c)
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
	if sharedPoller.unpark(c) {
		c.unref()
	}
}
