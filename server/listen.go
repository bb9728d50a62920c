package server

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/etcp-go/etcp/transport"
)

// Mode is what a server's acceptors are doing.
type Mode int32

// Server modes.
const (
	ModeAccepting Mode = iota // accepting connections
	ModeSleeping              // put to sleep: not accepting, costing nothing
	ModeClosed                // stopped, or the listener is gone for good
)

var modeNames = [...]string{"accepting", "sleeping", "closed"}

// String names the mode ("accepting", "sleeping", "closed").
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// listening is a server's listening side, shared by its acceptors: the
// listening sockets and the server's mode, one word:
//
//	accepting -> sleeping   Sleep (the listeners' deadline passes: blocked Accepts return)
//	sleeping  -> accepting  Wake (deadline cleared, every acceptor ticked)
//	any       -> closed     Stop, or a listener that cannot be reopened
//
// Sleep and Wake change the mode and the deadline at once and answer
// without waiting for the acceptors, which read the mode before every
// Accept and after every timeout.
type listening struct {
	mode atomic.Int32 // a Mode
	lns  []atomic.Pointer[listener]
	so   *transport.Options
	addr string // the bound address: a reopened listener takes it again

	mu sync.Mutex // orders deadline changes with mode changes
}

// listener is one listening socket; replaced when it dies and is reopened.
type listener struct {
	transport.Listener
	kicks int // acceptors that kicked it and have not left Accept; guarded by listening.mu
}

func (l *listening) Mode() Mode { return Mode(l.mode.Load()) }

// ln returns listening socket i (of acceptor i).
func (l *listening) ln(i int) *listener { return l.lns[i%len(l.lns)].Load() }

// kickTime is a deadline in the past: blocked Accepts return at once.
var kickTime = time.Unix(1, 0)

// setMode moves from one mode to another and sets the listeners'
// deadline to match, reporting whether it moved.
func (l *listening) setMode(from, to Mode) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.mode.CompareAndSwap(int32(from), int32(to)) {
		return false
	}
	l.applyLocked()
	return true
}

// applyLocked sets every listener's deadline to what the mode wants.
func (l *listening) applyLocked() {
	for i := range l.lns {
		if ln := l.lns[i].Load(); ln != nil {
			l.applyOneLocked(ln)
		}
	}
}

// applyOneLocked sets ln's deadline: in the past unless accepting, or
// while an acceptor's kick holds.
func (l *listening) applyOneLocked(ln *listener) {
	d := time.Time{}
	if l.Mode() != ModeAccepting || ln.kicks > 0 {
		d = kickTime
	}
	_ = ln.SetDeadline(d)
}

// kick makes blocked Accepts on ln return (an acceptor is asked to leave
// Accept), until unkick; the acceptors that go on call settle.
func (l *listening) kick(ln *listener) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln.kicks++
	_ = ln.SetDeadline(kickTime)
}

// unkick takes back a kick once its acceptor has left Accept.
func (l *listening) unkick(ln *listener) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln.kicks--
	l.applyOneLocked(ln)
}

// settle restores the deadline after a kick, unless the mode changed or
// a kick still holds.
func (l *listening) settle(ln *listener) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.applyOneLocked(ln)
}

// replace installs a reopened listening socket in place of dead, and
// closes dead (which may be open but no longer listening).
func (l *listening) replace(i int, dead *listener, fresh transport.Listener) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.lns[i].CompareAndSwap(dead, &listener{Listener: fresh}) {
		fresh.Close()
		return false
	}
	dead.Close()
	l.applyLocked()
	return true
}

// close closes every listening socket.
func (l *listening) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mode.Store(int32(ModeClosed))
	for i := range l.lns {
		if ln := l.lns[i].Load(); ln != nil {
			ln.Close()
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
