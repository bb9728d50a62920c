package actors

import (
	"strconv"
	"sync/atomic"
)

// wstate is where a connection's write side is: who may write to its
// socket, and who closes it. It is a machine of its own beside the read
// side's (state.go), with the same rules: one word per connection, every
// change a compare-and-swap through [wstateWord.move], legal only if
// listed in wtransitions; the package doc has the same table.
//
// The actor never waits for the peer: it writes what the socket takes at
// once and leaves the rest, the backlog, to its flusher: the event loop
// when the socket can take bytes again (loopwriter.go), or a goroutine
// that exists only while a backlog does (flusher.go).
type wstate uint32

const (
	wsDirect   wstate = iota // no backlog: the actor writes to the socket itself, without waiting
	wsFlushing               // a backlog: the flusher owns the socket's writes; the actor appends to the backlog
	wsFailed                 // the flusher's write failed: the actor ends the connection
	wsClosing                // the connection ended with bytes to deliver: the flusher delivers them, then closes
	wsClosed                 // the write side is done: the socket is closed
	wsShut                   // the handler shut the write side down (CloseWrite, halfclose.go): nothing is written again
	numWStates
)

var wstateNames = [numWStates]string{"direct", "flushing", "failed", "closing", "closed", "shut"}

func (s wstate) String() string {
	if s < numWStates {
		return wstateNames[s]
	}
	return "wstate(" + strconv.Itoa(int(s)) + ")"
}

// wmover names who makes a write-side transition.
type wmover uint8

const (
	wByActor   wmover = iota + 1 // the connection's actor
	wByFlusher                   // the connection's flusher: its goroutine, or its event loop's writer
)

func (m wmover) String() string { return [...]string{"", "actor", "flusher"}[m] }

// wtransition is one legal change of the write side's state.
type wtransition struct {
	from, to wstate
	by       wmover
	why      string
}

// wtransitions is the write side's state machine. The changes between
// direct and flushing are made under the outbox's lock, so that the
// actor never appends to a backlog the flusher has let go.
var wtransitions = [...]wtransition{
	{wsDirect, wsFlushing, wByActor, "the socket did not take a write whole: the rest is the backlog, a flusher starts"},
	{wsDirect, wsClosing, wByActor, "an error end whose replies must reach the peer before the reset"},
	{wsDirect, wsClosed, wByActor, "the connection ends with nothing to deliver: the actor closes the socket"},
	{wsDirect, wsShut, wByActor, "CloseWrite with nothing left to write: the actor shuts the socket's write side down"},

	{wsFlushing, wsDirect, wByFlusher, "the backlog is written: the flusher ends"},
	{wsFlushing, wsFailed, wByFlusher, "a write failed or stalled for the write timeout: the actor is told"},
	{wsFlushing, wsClosing, wByActor, "the connection ends: the flusher delivers the backlog, then closes"},
	{wsFlushing, wsClosed, wByActor, "the connection ends at once (a timeout, an overflow, a forced stop): the backlog is dropped"},

	{wsFailed, wsClosed, wByActor, "the connection ends on the failure: the actor closes the socket"},

	{wsClosing, wsClosed, wByFlusher, "delivered, or given up: the flusher closes the socket"},

	{wsShut, wsClosed, wByActor, "the connection ends: the actor closes the socket"},
}

var wlegal = func() (m [numWStates]uint8) {
	for _, t := range wtransitions {
		m[t.from] |= 1 << t.to
	}
	return m
}()

// wstateWord holds a connection's write-side state.
type wstateWord struct{ v atomic.Uint32 }

func (w *wstateWord) load() wstate { return wstate(w.v.Load()) }

// move changes the state from one to another, reporting whether it did.
func (w *wstateWord) move(from, to wstate) bool {
	return wlegal[from]&(1<<to) != 0 && w.v.CompareAndSwap(uint32(from), uint32(to))
}
