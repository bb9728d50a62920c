package actors

import (
	"log/slog"
	"time"

	"github.com/etcp-go/etcp/actors/internal/poll"
)

// Parking: a reader with nothing to read gives its goroutine up and
// leaves the socket registered with a poller, which starts a reader again
// when bytes come. This file holds the registration (which poller, add,
// take back); the changes of the state word that go with it (park,
// unpark, Ready) are in state.go, the only code that changes it.

// poller is the shared poller the connection waits on: its group's event
// loop (a loop per connection id modulo their number) or, without one,
// the process's.
func (p *process) poller() *poll.Poller {
	if loops := p.g.loops; len(loops) > 0 {
		return loops[p.id%uint64(len(loops))]
	}
	return sharedPoller
}

// sharedPoller is where parked and passivated connections wait, unless
// their group has an event loop.
var sharedPoller = func() *poll.Poller {
	p := poll.New(0)
	p.OnError = func(err error) { slog.Default().Error("etcp: the shared poller failed", "err", err) }
	return p
}()

// kickTime is a read deadline in the past: it makes a blocked read return
// at once (see kickPark and stopReader).
var kickTime = time.Unix(1, 0)

// canParkReader reports whether the reader can wait on the shared poller.
func (c *conn) canParkReader() bool { return c.raw != nil }

// key is the registration key, read by whoever owns the read side; the
// actor taking a parked reader's registration reads it with parkedKey.
func (c *conn) key() poll.Key { return poll.Key(c.pollKey.Load()) }

// parkedKey reads the key of the parked reader's registration and
// reports whether it belongs to the parking the state shows: the state
// the caller saw may be an earlier parking, the reader woken and parked
// again since with a new key (or about to). The key is read first: a
// reader writes its key before it moves to stParked, so stParked seen
// after the read vouches for the key (actor).
func (c *conn) parkedKey() (poll.Key, bool) {
	k := c.key()
	return k, c.proc.st.load() == stParked
}

// registerRaw registers the socket's descriptor, read through its
// syscall.RawConn (reader, parking).
func (c *conn) registerRaw() (fd int, err error) {
	fd = -1
	if cerr := c.raw.Control(func(f uintptr) {
		fd = int(f)
		err = c.register(fd)
	}); cerr != nil {
		err = cerr
	}
	return fd, err
}

// unpoll takes the parking reader's registration of fd back (reader,
// parking, asked to stop or end), while the descriptor is held open: the
// actor may have closed the socket meanwhile, and its number may then
// belong to another socket. A closed descriptor has left the epoll set
// with its close: only the registration's record goes.
func (c *conn) unpoll(fd int) {
	p := c.proc.poller()
	c.watching = false
	if l, ok := c.sock.(*loopConn); ok {
		if l.acquire() {
			defer l.release()
		} else {
			fd = -1
		}
	} else if c.raw != nil {
		// Control fails once the socket is closed, and holds it open while f runs.
		if c.raw.Control(func(f uintptr) { p.Remove(int(f), c.key()) }) == nil {
			return
		}
		fd = -1
	}
	p.Remove(fd, c.key())
}

// register registers fd with the connection's poller (reader, parking).
func (c *conn) register(fd int) (err error) {
	var k poll.Key
	if c.pollKey.Load() == 0 { // never registered: this socket is new to the poller
		k, err = c.proc.poller().AddNew(fd, c)
	} else {
		k, err = c.proc.poller().Add(fd, c)
	}
	c.pollKey.Store(uint64(k))
	return err
}
