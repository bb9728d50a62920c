package actors

import (
	"strconv"
	"sync/atomic"
)

// state is where a connection's socket is in its life: who owns its read
// side (the actor, a reader goroutine, the shared poller, the passivated
// record) and what was asked of that owner. Every connection has one
// state word (in its process, so that it outlives passivation), shared by
// the actor, the reader goroutine, the poller and the process; every
// change of it is a compare-and-swap through [stateWord.move], legal only
// if listed in transitions below. The package doc has the same table,
// with which fields each state gives to whom.
type state uint32

const (
	stStarting     state = iota // spawned: the handshake and Init have not completed
	stIdle                      // up, no reader: the actor owns the socket
	stReading                   // a reader goroutine owns the socket
	stKickPark                  // reading, asked to park and nudge the actor (hibernation)
	stKickStop                  // reading, asked to stop and nudge the actor (StartTLS)
	stPosted                    // a read was posted: the actor owns it and the socket
	stWaiting                   // posted, and the reader sleeps until released
	stParking                   // the reader is registering with the poller
	stParkingNudge              // parking, asked to nudge the actor once parked
	stParkingStop               // parking, asked to stop instead and nudge the actor
	stParkingClose              // parking while the connection ended: the reader cleans up
	stParked                    // no goroutine: the poller owns the socket
	stAsleep                    // passivated: no actor, no goroutine; the process owns the socket
	stHalfClosed                // the peer's FIN was read and the connection writes on (halfclose.go): the actor owns the socket; nothing is read again
	stClosed                    // ended
	numStates
)

var stateNames = [numStates]string{"starting", "idle", "reading", "kick-park", "kick-stop", "posted", "waiting",
	"parking", "parking-nudge", "parking-stop", "parking-close", "parked", "asleep", "half-closed", "closed"}

func (s state) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// up reports whether a connection in s is up: started, not ended.
func (s state) up() bool { return s != stStarting && s != stClosed && s != stParkingClose }

// holdsGoroutine reports whether a reader goroutine exists in s.
func (s state) holdsGoroutine() bool {
	switch s {
	case stReading, stKickPark, stKickStop, stPosted, stWaiting,
		stParking, stParkingNudge, stParkingStop, stParkingClose:
		return true
	}
	return false
}

// mover names who makes a transition.
type mover uint8

const (
	byActor   mover = iota + 1 // the connection's actor (its mailbox turn)
	byReader                   // the connection's reader goroutine
	byPoller                   // the shared poller's goroutine (or an event loop's)
	byProcess                  // the process waking a passivated connection, under its lock
)

var moverNames = [...]string{"", "actor", "reader", "poller", "process"}

func (m mover) String() string { return moverNames[m] }

// transition is one legal change of state.
type transition struct {
	from, to state
	by       mover
	why      string
}

// transitions is the connection's state machine: every legal change,
// who makes it and why. Anything else is refused.
var transitions = [...]transition{
	{stStarting, stIdle, byActor, "Init accepted the connection"},
	{stStarting, stClosed, byActor, "the handshake failed or Init declined"},

	{stIdle, stReading, byActor, "the handler wants bytes: a reader goroutine starts"},
	{stIdle, stAsleep, byActor, "passivation of a connection that reads nothing"},
	{stIdle, stClosed, byActor, "the connection ends"},

	{stReading, stPosted, byReader, "a read completed (bytes, end of stream or error)"},
	{stReading, stParking, byReader, "nothing to read for ParkAfter"},
	{stReading, stKickPark, byActor, "hibernation: the reader must park"},
	{stReading, stKickStop, byActor, "StartTLS: the reader must stop"},
	{stReading, stClosed, byActor, "the connection ends; the reader exits when it wakes"},

	{stKickPark, stPosted, byReader, "bytes came before the kick: the read wakes the actor"},
	{stKickPark, stParkingNudge, byReader, "the kick: park, then nudge"},
	{stKickPark, stKickStop, byActor, "StartTLS after hibernation: stop instead of parking"},
	{stKickPark, stClosed, byActor, "the connection ends"},

	{stKickStop, stPosted, byReader, "bytes came before the kick: the actor holds the read"},
	{stKickStop, stIdle, byReader, "the kick: the reader stops and nudges"},
	{stKickStop, stClosed, byActor, "the connection ends"},

	{stPosted, stWaiting, byReader, "the actor did not take the read inline"},
	{stPosted, stReading, byActor, "the read is consumed; read on"},
	{stPosted, stKickPark, byActor, "the read is consumed; hibernate"},
	{stPosted, stIdle, byActor, "the read is consumed; no more bytes wanted (passive, StartTLS)"},
	{stPosted, stHalfClosed, byActor, "the read was the peer's FIN and the connection writes on (WithHalfClose)"},
	{stPosted, stClosed, byActor, "the connection ends"},

	{stWaiting, stReading, byActor, "the read is consumed; read on (the reader is woken)"},
	{stWaiting, stKickPark, byActor, "the read is consumed; hibernate (the reader is woken)"},
	{stWaiting, stIdle, byActor, "the read is consumed; no more bytes wanted (the reader is woken)"},
	{stWaiting, stHalfClosed, byActor, "the read was the peer's FIN; the connection writes on (the reader is woken)"},
	{stWaiting, stClosed, byActor, "the connection ends (the reader is woken)"},

	{stParking, stParked, byReader, "registered with the poller: the goroutine ends"},
	{stParking, stReading, byPoller, "bytes came while parking: the parking reader reads on"},
	{stParking, stReading, byReader, "the poller refused the socket: read on in this goroutine"},
	{stParking, stParkingNudge, byActor, "hibernation while the reader parks"},
	{stParking, stParkingStop, byActor, "StartTLS while the reader parks"},
	{stParking, stParkingClose, byActor, "the connection ends while the reader parks"},

	{stParkingNudge, stParked, byReader, "registered: the goroutine nudges the actor and ends"},
	{stParkingNudge, stReading, byPoller, "bytes came while parking: the read wakes the actor"},
	{stParkingNudge, stReading, byReader, "the poller refused the socket: read on, no passivation"},
	{stParkingNudge, stKickPark, byReader, "the event loop's watch saw an edge while disarmed: read on, then park and nudge"},
	{stParkingNudge, stParkingStop, byActor, "StartTLS while the reader parks"},
	{stParkingNudge, stParkingClose, byActor, "the connection ends while the reader parks"},

	{stParkingStop, stIdle, byReader, "the registration is taken back: the reader nudges and ends"},
	{stParkingStop, stParkingClose, byActor, "the connection ends while the reader parks"},

	{stParkingClose, stClosed, byReader, "the registration is taken back: the reader ends"},

	{stParked, stReading, byPoller, "bytes or a close: a reader goroutine starts"},
	{stParked, stReading, byActor, "a passivation gave up after taking the registration back"},
	{stParked, stIdle, byActor, "StartTLS: the actor took the registration back"},
	{stParked, stAsleep, byActor, "passivation: the actor took the registration back"},
	{stParked, stClosed, byActor, "the connection ends: the actor took the registration back"},

	{stAsleep, stIdle, byProcess, "a message, bytes or a close: the actor is spawned again"},
	{stAsleep, stHalfClosed, byProcess, "a message to a half-closed connection: the actor is spawned again"},
	{stAsleep, stClosed, byProcess, "the actor could not be spawned again"},

	{stHalfClosed, stAsleep, byActor, "passivation of a half-closed connection"},
	{stHalfClosed, stClosed, byActor, "the connection ends"},
}

// legal[from] has bit to set when from -> to is a transition.
var legal = func() (m [numStates]uint16) {
	for _, t := range transitions {
		m[t.from] |= 1 << t.to
	}
	return m
}()

// stateWord holds a connection's state.
type stateWord struct{ v atomic.Uint32 }

func (w *stateWord) load() state { return state(w.v.Load()) }

// move changes the state from one to another, reporting whether it did:
// false if the state was not from (someone else moved first) or the
// transition is not legal.
func (w *stateWord) move(from, to state) bool {
	return legal[from]&(1<<to) != 0 && w.v.CompareAndSwap(uint32(from), uint32(to))
}

// The operations below are the only code that changes a connection's
// state. Each says who may call it.

// up marks a started connection up: Init accepted it (actor).
func (c *conn) up() { c.proc.st.move(stStarting, stIdle) }

// startReading starts a reader goroutine if none runs or waits (actor).
// A turn run by a dispatcher goroutine hands that goroutine over instead
// (mailbox.runScheduled).
func (c *conn) startReading() {
	c.enterLoop()
	if c.proc.st.move(stIdle, stReading) {
		c.refs.Add(1)
		if c.inLoop() {
			c.loopStart()
			return
		}
		if c.mb.offer && !c.mb.handed {
			c.mb.handed = true
			return
		}
		go c.reader()
	}
}

// releaseRead ends the actor's hold on a posted read: the reader reads
// on (stReading), parks (stKickPark) or stops (stIdle) (actor, in the
// read's turn).
func (c *conn) releaseRead(next state) {
	st := &c.proc.st
	if next == stIdle || next == stHalfClosed {
		c.readerGen.Add(1) // before the state says so: the reader reads it after (awaitRelease)
	}
	if st.move(stPosted, next) {
		return // the reader looks at the state when the actor returns
	}
	if st.move(stWaiting, next) {
		c.consumed <- struct{}{}
	}
}

// nextRead is what the reader does once the actor has consumed its read.
func (c *conn) nextRead() state {
	switch {
	case c.hibernated && c.canParkReader():
		return stKickPark
	case c.takes() && c.upgrade == nil:
		return stReading
	}
	return stIdle
}

// kickPark asks the reader to park on the shared poller and nudge the
// actor once parked, so that a hibernating connection can passivate
// (actor).
func (c *conn) kickPark() {
	if !c.canParkReader() {
		return
	}
	st := &c.proc.st
	for {
		switch st.load() {
		case stReading:
			if st.move(stReading, stKickPark) {
				c.sock.SetReadDeadline(kickTime)
				return
			}
		case stParking:
			if st.move(stParking, stParkingNudge) {
				return
			}
		default:
			// Idle or parked: passivation can go ahead. Posted or waiting:
			// a read is on its way and wakes the connection. Already kicked.
			return
		}
	}
}

// stopReader asks the reader to stop so that the actor owns the socket
// (for StartTLS). It reports whether the actor owns it now, with every
// byte read so far pending; if not, the reader nudges the actor once it
// has stopped, or the queued read's turn comes (actor).
func (c *conn) stopReader() bool {
	st := &c.proc.st
	for {
		switch s := st.load(); s {
		case stIdle:
			return true
		case stPosted, stWaiting:
			// The actor holds the read until it releases it; but its bytes
			// may be the start of the handshake (a ClientHello), and they
			// are pending only once the read's turn has taken them. From
			// another message's turn the read is still queued: its turn
			// upgrades.
			return c.inRead
		case stReading, stKickPark:
			if st.move(s, stKickStop) {
				c.sock.SetReadDeadline(kickTime)
				return false
			}
		case stParking, stParkingNudge:
			if st.move(s, stParkingStop) {
				return false
			}
		case stKickStop, stParkingStop:
			return false
		case stParked:
			if c.unpark(stIdle) {
				return true
			} // the poller fired first: a reader runs now
		default:
			return false
		}
	}
}

// closeRead takes the socket's read side away from whoever has it as the
// connection ends (actor).
func (c *conn) closeRead() {
	st := &c.proc.st
	for {
		switch s := st.load(); s {
		case stClosed, stParkingClose:
			return
		case stStarting, stIdle, stPosted, stHalfClosed: // the actor's: so is the event loop's watch
			c.dropWatch()
			if st.move(s, stClosed) {
				return
			}
		case stReading, stKickPark, stKickStop: // the reader drops the watch as it ends
			if st.move(s, stClosed) {
				return
			}
		case stWaiting:
			c.dropWatch() // before the waiting reader wakes
			if st.move(stWaiting, stClosed) {
				c.consumed <- struct{}{}
				return
			}
		case stParking, stParkingNudge, stParkingStop:
			if st.move(s, stParkingClose) {
				return
			}
		case stParked:
			if c.unpark(stClosed) {
				return
			} // the poller fired first: a reader runs now
		default:
			return
		}
	}
}

// unpark takes a parked reader's registration back and moves to (actor).
// It reports false if the poller fired first: it has moved the state to
// stReading and started a reader.
func (c *conn) unpark(to state) bool {
	fd := -1
	if c.raw != nil {
		c.raw.Control(func(f uintptr) { fd = int(f) })
	}
	if k, ok := c.parkedKey(); !ok || !c.proc.poller().Remove(fd, k) {
		return false
	}
	c.watching = false
	if !c.proc.st.move(stParked, to) {
		panic("etcp: a parked connection changed state while the actor held its registration")
	}
	if to == stReading {
		c.spawnReader() // the registration's reference goes to it
	} else {
		c.unref()
	}
	return true
}

// Ready is the poller's call for a parked reader's registration: bytes
// or a close arrived (poller).
func (c *conn) Ready() {
	st := &c.proc.st
	for {
		switch s := st.load(); s {
		case stParked:
			if st.move(stParked, stReading) {
				if c.inLoop() {
					c.loopServe(true) // the event loop: served right here
					return
				}
				go c.reader() // the registration's reference goes to it
				return
			}
		case stParking, stParkingNudge:
			if st.move(s, stReading) {
				return // the parking reader sees it and reads on
			}
		default:
			return // stopping or closing while parking: the reader cleans up
		}
	}
}

// posted announces a completed read (reader). It reports false if the
// connection has ended: the read is dropped.
func (c *conn) posted() bool {
	st := &c.proc.st
	for {
		switch s := st.load(); s {
		case stReading, stKickPark, stKickStop:
			if st.move(s, stPosted) {
				return true
			}
		default:
			return false
		}
	}
}

// awaitRelease waits until the actor is done with the posted read and
// returns what the reader is to do next (reader). gen is readerGen as it
// was before the read was posted: if the read's turn released it to idle,
// this reader is done (stIdle), whatever the state says by now: a later
// message of the same turn, or of one run since, may have started
// another reader (stIdle -> stReading), whose read side this reader must
// not touch.
func (c *conn) awaitRelease(gen uint32) state {
	st := &c.proc.st
	if st.load() == stPosted {
		if c.consumed == nil {
			c.consumed = make(chan struct{}, 1)
		}
		if st.move(stPosted, stWaiting) {
			<-c.consumed
		}
	} // else the actor ran the read inline, as usual
	if c.readerGen.Load() != gen {
		return stIdle
	}
	return st.load()
}

// onDeadline handles a read deadline: the idle one the reader armed, a
// kick from the actor, or a stale kick (reader).
func (c *conn) onDeadline() readerStep {
	st := &c.proc.st
	for {
		switch s := st.load(); s {
		case stKickPark:
			c.clearDeadline()
			if st.move(stKickPark, stParkingNudge) {
				return c.park()
			}
		case stKickStop:
			c.clearDeadline()
			if st.move(stKickStop, stIdle) {
				c.nudge()
				return readerDone
			}
		case stReading:
			if !c.deadlineArmed {
				c.clearDeadline() // a kick whose read completed first
				return readOn
			}
			if c.readsSinceArm > 0 {
				// Busy: look again, later than last time.
				c.parkShift = min(c.parkShift+1, maxParkShift)
				c.deadlineArmed = false
				c.armDeadline()
				return readOn
			}
			c.clearDeadline()
			if c.startParking() {
				return c.park()
			}
		default:
			return readerDone // closed
		}
	}
}

// onKicked handles a kick seen after a released read, before reading
// again (reader).
func (c *conn) onKicked(s state) readerStep {
	st := &c.proc.st
	switch {
	case s == stKickPark && st.move(stKickPark, stParkingNudge):
		c.clearDeadline()
		return c.park()
	case s == stKickStop && st.move(stKickStop, stIdle):
		c.clearDeadline()
		c.nudge()
		return readerDone
	}
	return c.onDeadline() // moved meanwhile: look again
}

// startParking moves a reader with nothing to read to parking (reader,
// in stReading): the idle deadline passed, or the event loop's read is
// done. It reports false if the actor kicked meanwhile: look again.
func (c *conn) startParking() bool { return c.proc.st.move(stReading, stParking) }

// park registers the socket with the shared poller and ends the
// reader's goroutine, unless the poller fires first or the actor asked
// for something else meanwhile (reader, in stParking or stParkingNudge).
func (c *conn) park() readerStep {
	st := &c.proc.st
	c.parkShift = 0 // the next idle deadline is ParkAfter again
	var err error
	var fd int
	if l, ok := c.sock.(*loopConn); ok {
		// The event loop parks after every message: nothing to allocate.
		fd, err = l.fd, c.registerLoop(l)
	} else {
		fd, err = c.registerRaw()
	}
	for {
		switch s := st.load(); s {
		case stParking:
			if err != nil {
				if st.move(stParking, stReading) {
					return readOn
				}
			} else if st.move(stParking, stParked) {
				return readerGone
			}
		case stParkingNudge:
			if err != nil {
				// An edge the watch kept may announce bytes read already:
				// read on keeping the kick, so that a read that finds
				// nothing parks again and nudges then.
				next := stReading
				if err == errReadNow {
					next = stKickPark
				}
				if st.move(stParkingNudge, next) {
					return readOn
				}
				continue
			}
			c.refs.Add(1) // the registration takes the reader's reference; this one covers the nudge
			if st.move(stParkingNudge, stParked) {
				c.nudge()
				c.unref()
				return readerGone
			}
			c.refs.Add(-1)
		case stReading, stKickPark, stKickStop:
			// The poller fired while we parked (its registration is spent)
			// and the actor may have asked something since: read on, and
			// the loop sees the kick.
			return readOn
		case stClosed: // the poller fired, then the connection ended
			return readerDone
		case stParkingStop:
			c.unpoll(fd)
			if st.move(stParkingStop, stIdle) {
				c.nudge()
				return readerDone
			}
		case stParkingClose:
			c.unpoll(fd)
			if st.move(stParkingClose, stClosed) {
				return readerDone
			}
		default:
			panic("etcp: a parking reader found the state " + s.String())
		}
	}
}

// takeForSleep takes the socket from a parked reader or an idle
// connection for passivation (actor, its mailbox retired, the process
// locked). It reports whether the socket is to be watched while asleep
// (a reader was parked on it) and whether it may passivate; the state
// stays as it was until sleep or restoreReader.
func (c *conn) takeForSleep() (watch, ok bool) {
	switch c.proc.st.load() {
	case stIdle, stHalfClosed:
		c.dropWatch()
		return false, true
	case stParked:
		fd := -1
		c.raw.Control(func(f uintptr) { fd = int(f) })
		if k, ok := c.parkedKey(); !ok || !c.proc.poller().Remove(fd, k) {
			return true, false
		}
		c.watching = false
		return true, true
	}
	return false, false
}

// sleep completes a passivation that takeForSleep allowed (actor).
func (c *conn) sleep(watched bool) {
	from := stIdle
	if watched {
		from = stParked
	} else if c.proc.st.load() == stHalfClosed {
		from = stHalfClosed
	}
	if !c.proc.st.move(from, stAsleep) {
		panic("etcp: a passivating connection changed state")
	}
	if watched {
		c.unref() // the parked reader's; the actor's goes to the record
	}
}

// restoreReader gives up a passivation after takeForSleep took a parked
// reader's registration: a reader reads on (actor).
func (c *conn) restoreReader(watched bool) {
	if watched && c.proc.st.move(stParked, stReading) {
		c.spawnReader()
	}
}

// Ready is the poller's call for a passivated connection: bytes or a
// close arrived (poller; the wake-up runs on a goroutine of its own).
func (p *process) Ready() { go p.readyAsleep() }

// awaken moves a passivated connection back to life (idle, or
// half-closed as it slept), or to its end when it cannot be spawned again
// (process, locked).
func (p *process) awaken(ok, halfClosed bool) {
	to := stIdle
	switch {
	case !ok:
		to = stClosed
	case halfClosed:
		to = stHalfClosed
	}
	if !p.st.move(stAsleep, to) {
		panic("etcp: a passivated connection changed state while asleep")
	}
}
