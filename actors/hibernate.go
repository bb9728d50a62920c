package actors

// hibernate gives back the memory a waiting connection does not need:
// the write buffer, and any slack in the buffer of a partial frame.
// (Parking the reader on a shared poller comes with the hibernation work.)
func (c *Conn) hibernate() {
	if c.out != nil {
		c.releaseOut()
	}
	switch {
	case len(c.pending) == 0:
		c.pending = nil
	case cap(c.pending) > len(c.pending):
		c.pending = append([]byte(nil), c.pending...)
	}
}
