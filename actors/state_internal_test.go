package actors

import (
	"context"
	"log/slog"
	"net"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// Every pair of states: the listed transitions are made, every other is
// refused and leaves the word as it was.
func TestTransitionTable(t *testing.T) {
	listed := map[[2]state]bool{}
	for _, tr := range transitions {
		listed[[2]state{tr.from, tr.to}] = true
	}
	for from := range numStates {
		for to := range numStates {
			var w stateWord
			w.v.Store(uint32(from))
			got := w.move(from, to)
			want := listed[[2]state{from, to}]
			assert.Equal(t, want, got, "%v -> %v", from, to)
			if got {
				assert.Equal(t, to, w.load())
			} else {
				assert.Equal(t, from, w.load(), "a refused %v -> %v changed the word", from, to)
			}
		}
	}
}

// A move from a state the word is not in is refused, even when legal.
func TestMoveFromAnotherState(t *testing.T) {
	var w stateWord
	w.v.Store(uint32(stPosted))
	assert.False(t, w.move(stIdle, stReading))
	assert.Equal(t, stPosted, w.load())
}

// Every state can be reached from the start (stStarting), and every state
// but stClosed leads to stClosed: no connection is stuck.
func TestEveryStateReachableAndEnds(t *testing.T) {
	next := map[state][]state{}
	for _, tr := range transitions {
		next[tr.from] = append(next[tr.from], tr.to)
	}
	reach := func(from state) map[state]bool {
		seen := map[state]bool{from: true}
		for todo := []state{from}; len(todo) > 0; {
			s := todo[0]
			todo = todo[1:]
			for _, n := range next[s] {
				if !seen[n] {
					seen[n] = true
					todo = append(todo, n)
				}
			}
		}
		return seen
	}
	fromIdle := reach(stStarting)
	for s := range numStates {
		assert.True(t, fromIdle[s], "%v unreachable", s)
		assert.True(t, reach(s)[stClosed], "%v never ends", s)
	}
	assert.Empty(t, next[stClosed], "closed is final")
}

// The package doc's table lists exactly the transitions of the code.
func TestTransitionTableIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	row := regexp.MustCompile(`(?m)^//\s+([a-z-]+)\s+->\s+([a-z-]+)\s+(actor|reader|poller|process)\b`)
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]+" -> "+m[2]+" by "+m[3]] = true
	}
	inCode := map[string]bool{}
	for _, tr := range transitions {
		inCode[tr.from.String()+" -> "+tr.to.String()+" by "+tr.by.String()] = true
	}
	assert.Equal(t, inCode, documented)
}

// The package doc's write-side table lists exactly the write side's
// transitions.
func TestWriteTransitionTableIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	row := regexp.MustCompile(`(?m)^//\s+([a-z-]+)\s+=>\s+([a-z-]+)\s+(actor|flusher)\s+(.+)$`)
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]+" -> "+m[2]+" by "+m[3]+": "+m[4]] = true
	}
	inCode := map[string]bool{}
	for _, tr := range wtransitions {
		inCode[tr.from.String()+" -> "+tr.to.String()+" by "+tr.by.String()+": "+tr.why] = true
	}
	assert.Equal(t, inCode, documented)
	for s := range numWStates {
		ends := s == wsClosed
		for _, tr := range wtransitions {
			if tr.from == s {
				ends = true
			}
		}
		assert.True(t, ends, "%v is a dead end", s)
	}
}

func TestStateNames(t *testing.T) {
	seen := map[string]bool{}
	for s := range numStates {
		name := s.String()
		assert.NotEmpty(t, name)
		assert.False(t, seen[name], "%q twice", name)
		seen[name] = true
	}
	assert.Equal(t, "state(99)", state(99).String())
}

// invoker records what a mailbox hands its actor, for tests that drive a
// connection without spawning it.
type invoker struct {
	mu   sync.Mutex
	user []any
}

func (i *invoker) InvokeSystemMessage(any) {}
func (i *invoker) InvokeUserMessage(m any) {
	i.mu.Lock()
	i.user = append(i.user, m)
	i.mu.Unlock()
}
func (i *invoker) EscalateFailure(reason any, _ any) { panic(reason) }

func (i *invoker) nudges() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	n := 0
	for _, m := range i.user {
		if m == passivateNudge {
			n++
		}
	}
	return n
}

// testConn is a connection over a real loopback socket whose actor is not
// spawned: the test plays the actor (and, where said, the reader).
func testConn(t *testing.T) (*conn, net.Conn, *invoker) {
	t.Helper()
	ln, err := transport.TCP().Listen(context.Background(), "127.0.0.1:0", nil)
	require.NoError(t, err)
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { peer.Close() })
	sock, err := ln.Accept()
	require.NoError(t, err)
	g, err := newGroup(actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	})), "test", &ConnOptions{}, func() behaviours.Handler { return behaviours.Base{} }, nil)
	require.NoError(t, err)
	c := newConn(g, sock, 1, true, nil, false)
	inv := &invoker{}
	c.mb.RegisterHandlers(inv, actor.NewSynchronizedDispatcher(300))
	t.Cleanup(func() {
		c.sock.Close()
		c.unref() // the actor's reference
		g.Wait()  // every reader the test started has ended
	})
	return c, peer, inv
}

// The read hand-off: a read released before the reader looks is taken
// without waiting; one released later wakes the waiting reader with what
// to do next; an end wakes it too.
func TestReadHandOff(t *testing.T) {
	c, _, _ := testConn(t)
	st := &c.proc.st
	st.v.Store(uint32(stReading))

	require.True(t, c.posted())
	gen := c.readerGen.Load() // the generation this read belongs to
	c.releaseRead(stReading)  // the actor ran inline
	require.Equal(t, stReading, c.awaitRelease(gen))

	require.True(t, c.posted())
	gen = c.readerGen.Load() // the generation this read belongs to
	next := make(chan state)
	go func() { next <- c.awaitRelease(gen) }()
	require.Eventually(t, func() bool { return st.load() == stWaiting }, time.Second, time.Millisecond)
	c.releaseRead(stIdle)
	require.Equal(t, stIdle, <-next)

	st.v.Store(uint32(stReading))
	require.True(t, c.posted())
	gen = c.readerGen.Load() // the generation this read belongs to
	go func() { next <- c.awaitRelease(gen) }()
	require.Eventually(t, func() bool { return st.load() == stWaiting }, time.Second, time.Millisecond)
	c.closeRead()
	require.Equal(t, stClosed, <-next)
	require.False(t, c.posted(), "a read after the end is dropped")
}

// A read released to idle ends its reader, even when, before the reader
// looks, a later message of the same turn (a Writability notice after
// back-pressure paused reading) or of another has started a new reader:
// two readers would share the read buffer (a race, a corrupted echo, a
// nil in the buffer pool).
func TestReleasedToIdleEndsTheReader(t *testing.T) {
	c, _, _ := testConn(t)
	st := &c.proc.st
	for _, wait := range []bool{false, true} {
		st.v.Store(uint32(stReading))
		require.True(t, c.posted())
		gen := c.readerGen.Load() // the generation this read belongs to
		next := make(chan state, 1)
		if wait { // the read was queued: the reader sleeps until released
			go func() { next <- c.awaitRelease(gen) }()
			require.Eventually(t, func() bool { return st.load() == stWaiting }, time.Second, time.Millisecond)
		}
		c.releaseRead(stIdle)                       // the read's turn: over the high mark, stop reading
		require.True(t, st.move(stIdle, stReading)) // a later message: under the low mark, read again
		if !wait {
			next <- c.awaitRelease(gen) // the actor ran inline
		}
		require.Equal(t, stIdle, <-next, "the first reader must end: another owns the read side")
	}
}

// A kicked reader's read still posts: the kick is dropped, the actor
// decides when it releases the read.
func TestReadAfterKickPosts(t *testing.T) {
	c, _, _ := testConn(t)
	for _, kick := range []state{stKickPark, stKickStop} {
		c.proc.st.v.Store(uint32(kick))
		require.True(t, c.posted())
		require.Equal(t, stPosted, c.proc.st.load())
	}
}

// park registers the socket and ends the reader; the actor takes the
// registration back to end the connection.
func TestParkThenClose(t *testing.T) {
	c, _, inv := testConn(t)
	st := &c.proc.st
	c.refs.Add(1) // the reader's reference, which parking hands to the poller
	st.v.Store(uint32(stParking))
	require.Equal(t, readerGone, c.park())
	require.Equal(t, stParked, st.load())
	require.Zero(t, inv.nudges(), "an idle park nudges no one")
	c.closeRead()
	require.Equal(t, stClosed, st.load())
}

// A hibernation kick parks and nudges the actor once.
func TestParkWithNudge(t *testing.T) {
	c, _, inv := testConn(t)
	st := &c.proc.st
	c.refs.Add(1)
	st.v.Store(uint32(stParkingNudge))
	require.Equal(t, readerGone, c.park())
	require.Equal(t, stParked, st.load())
	require.Equal(t, 1, inv.nudges())
	c.closeRead()
}

// Asked to stop while parking, the reader takes its registration back,
// goes idle and nudges; asked to end, it goes to closed.
func TestParkingAskedToStopOrEnd(t *testing.T) {
	c, _, inv := testConn(t)
	st := &c.proc.st
	c.refs.Add(1)
	st.v.Store(uint32(stParkingStop))
	require.Equal(t, readerDone, c.park())
	require.Equal(t, stIdle, st.load())
	require.Equal(t, 1, inv.nudges())
	c.unref()

	c.refs.Add(1)
	st.v.Store(uint32(stParkingClose))
	require.Equal(t, readerDone, c.park())
	require.Equal(t, stClosed, st.load())
	c.unref()
	require.Eventually(t, func() bool { return c.proc.poller().Len() == 0 }, time.Second, time.Millisecond,
		"no registration left behind")
}

// The actor asking for the socket back: from a parked reader it takes
// the registration (stopReader); a reading one is kicked and nudges.
func TestStopReader(t *testing.T) {
	c, _, inv := testConn(t)
	st := &c.proc.st
	c.refs.Add(1)
	st.v.Store(uint32(stParking))
	require.Equal(t, readerGone, c.park())
	require.True(t, c.stopReader(), "a parked reader is taken back at once")
	require.Equal(t, stIdle, st.load())

	c.startReading() // a real reader goroutine, waiting for bytes
	require.False(t, c.stopReader(), "a reading reader must be kicked")
	require.Eventually(t, func() bool { return st.load() == stIdle && inv.nudges() == 1 }, time.Second,
		time.Millisecond, "the kicked reader stops and nudges")
}

// Bytes arriving for a parked reader: the poller starts a reader, which
// posts them; the actor (here: not up, so it never releases) ends it.
func TestPollerStartsReader(t *testing.T) {
	c, peer, _ := testConn(t)
	st := &c.proc.st
	c.refs.Add(1)
	st.v.Store(uint32(stParking))
	require.Equal(t, readerGone, c.park())
	_, err := peer.Write([]byte("x"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return st.load() == stWaiting }, time.Second, time.Millisecond,
		"parked -> reading -> posted -> waiting")
	c.closeRead()
}

// Hammered park and unpark on one connection never runs two readers:
// bytes arrive at random while the reader parks every millisecond and the
// actor keeps taking the socket back and handing it out again.
func TestNeverTwoReaders(t *testing.T) {
	var running, most atomic.Int32
	readerHook = func(_ *conn, d int) {
		n := running.Add(int32(d))
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
	}
	t.Cleanup(func() { readerHook = nil })
	c, peer, _ := testConn(t)
	c.g.parkAfter = time.Millisecond
	done := make(chan struct{})
	go func() { // the peer: bytes at random moments
		defer close(done)
		for i := range 2000 {
			if _, err := peer.Write([]byte{byte(i)}); err != nil {
				return
			}
			if i%7 == 0 {
				time.Sleep(time.Duration(i%3) * time.Millisecond)
			}
		}
	}()
	st := &c.proc.st
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		switch s := st.load(); s {
		case stIdle:
			c.startReading()
		case stPosted, stWaiting:
			c.dropRead()
			c.releaseRead(stReading)
		case stParked, stReading:
			c.stopReader()
		}
	}
	<-done
	c.closeRead()
	require.LessOrEqual(t, most.Load(), int32(1), "two reader goroutines ran at once")
}

// A busy reader's idle deadline doubles each time it passes with reads
// in between, up to 64 × ParkAfter; a deadline with no read parks the
// reader, and the next wait is ParkAfter again.
func TestParkWaitDoublesWhileBusy(t *testing.T) {
	c, _, _ := testConn(t)
	st := &c.proc.st
	c.refs.Add(1) // the reader's reference, which parking hands to the poller
	st.v.Store(uint32(stReading))
	c.armDeadline()
	require.True(t, c.deadlineArmed)
	for want := uint8(1); want <= maxParkShift+2; want++ {
		c.readsSinceArm = 1 // a read completed since the deadline was armed
		require.Equal(t, readOn, c.onDeadline())
		require.True(t, c.deadlineArmed, "a busy reader re-arms")
		require.Equal(t, min(want, maxParkShift), c.parkShift)
		require.Equal(t, stReading, st.load())
	}
	require.Equal(t, readerGone, c.onDeadline(), "no read since the last look: park")
	require.Equal(t, stParked, st.load())
	require.Zero(t, c.parkShift, "parking starts the wait over")
	c.closeRead()
}
