//go:build linux

package poll

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Poller waits for readiness of many sockets with one epoll instance and
// one goroutine. The zero value is not usable; use [New].
type Poller struct {
	// OnError hears of a failed wait (see the package doc); nil ignores it.
	// Set it before the first Add.
	OnError func(error)

	linger time.Duration

	mu      sync.Mutex
	epfd    int
	running bool
	waiters map[Key]Waiter // one-shot registrations (Add, AddNew)
	watches map[Key]*watch // persistent ones (Watch)
	next    Key
	events  int // wake-ups handled, for tests

	// The loop goroutine's own: the wake-up it is dispatching, so that
	// Handoff can give the rest to the next loop goroutine.
	batch []syscall.EpollEvent
	pos   int
	// turn counts handoffs: a loop goroutine whose turn is past ends.
	turn atomic.Uint64
}

// New returns a poller whose goroutine ends after linger with nothing
// registered (0 means [DefaultLinger]).
func New(linger time.Duration) *Poller {
	if linger <= 0 {
		linger = DefaultLinger
	}
	return &Poller{linger: linger, epfd: -1}
}

const maxEvents = 256

// readEvents are a one-shot read registration's: readable, or the peer
// closed its side.
const readEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// Add registers fd for w: once fd is readable (or closed by the peer),
// Ready runs once, unless Remove takes the registration back first. A
// descriptor registered before and fired is armed again: one system call.
func (p *Poller) Add(fd int, w Waiter) (Key, error) {
	return p.add(fd, w, readEvents, syscall.EPOLL_CTL_MOD, syscall.ENOENT, syscall.EPOLL_CTL_ADD)
}

// AddNew is Add for a descriptor never registered with p (or removed
// since): one system call too.
func (p *Poller) AddNew(fd int, w Waiter) (Key, error) {
	return p.add(fd, w, readEvents, syscall.EPOLL_CTL_ADD, syscall.EEXIST, syscall.EPOLL_CTL_MOD)
}

// AddWritable is Add for writability: once fd can take bytes again (or
// has failed), Ready runs once, unless Remove takes the registration back
// first. A descriptor has one registration per poller: one that is
// watched for reads is registered for writes through a duplicate of it.
func (p *Poller) AddWritable(fd int, w Waiter) (Key, error) {
	return p.add(fd, w, syscall.EPOLLOUT|syscall.EPOLLONESHOT, syscall.EPOLL_CTL_MOD, syscall.ENOENT,
		syscall.EPOLL_CTL_ADD)
}

// add registers fd for events with op, or with then if op fails with
// miss. A fired one-shot registration stays in the set, disabled, until
// it is armed again (EPOLL_CTL_MOD); a new one needs EPOLL_CTL_ADD.
func (p *Poller) add(fd int, w Waiter, events uint32, op int, miss syscall.Errno, then int) (Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k, ev, err := p.newKeyLocked(events)
	if err != nil {
		return 0, err
	}
	err = syscall.EpollCtl(p.epfd, op, fd, &ev)
	if err == miss {
		err = syscall.EpollCtl(p.epfd, then, fd, &ev)
	}
	if err != nil {
		return 0, os.NewSyscallError("epoll_ctl", err)
	}
	p.waiters[k] = w
	return k, nil
}

// newKeyLocked starts the poller if it is not running and returns a new
// registration's key, with the epoll event that carries it.
func (p *Poller) newKeyLocked(events uint32) (Key, syscall.EpollEvent, error) {
	if err := p.startLocked(); err != nil {
		return 0, syscall.EpollEvent{}, err
	}
	p.next++
	return p.next, keyEvent(p.next, events), nil
}

// keyEvent is the epoll event for events that carries key k.
func keyEvent(k Key, events uint32) syscall.EpollEvent {
	ev := syscall.EpollEvent{Events: events}
	ev.Fd, ev.Pad = int32(uint32(k)), int32(uint32(k>>32))
	return ev
}

// watchEvents are a watch's: readable, peer closed, edge-triggered
// (EPOLLET is the sign bit of the int32 constant).
const watchEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | 1<<31

// watch is a persistent, edge-triggered registration: it stays in the
// epoll set between wake-ups, so that arming it again costs no system
// call. Its Ready runs when an edge comes while it is armed; an edge that
// comes while it is not (its waiter is busy with the socket) is kept as
// pending, for the next Rearm to report.
type watch struct {
	w       Waiter
	armed   bool
	pending bool
	// ended: an edge said the peer closed its side or the socket failed
	// (EPOLLRDHUP, EPOLLHUP, EPOLLERR). No edge follows that, and a short
	// read may have left the end unread: every Rearm reports it ready.
	ended bool
}

// Watch registers fd for w persistently and armed: Ready runs once when
// fd becomes readable (or closed by the peer), then the registration
// waits, disarmed, for Rearm. Being edge-triggered, it announces bytes
// that arrive after it was armed or last fired: the waiter reads until a
// read comes short (or fails with EAGAIN) before it arms it again with
// Rearm, or arms it with RearmCheck, which looks at the socket.
func (p *Poller) Watch(fd int, w Waiter) (Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k, ev, err := p.newKeyLocked(watchEvents)
	if err != nil {
		return 0, err
	}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return 0, os.NewSyscallError("epoll_ctl", err)
	}
	p.watches[k] = &watch{w: w, armed: true}
	return k, nil
}

// Rearm arms watch k again, with no system call. It reports ready if an
// edge came while it was disarmed, or the peer's end has been announced
// (the waiter reads again, and the watch stays disarmed), and gone if k is no longer registered (the poller
// failed, or it was removed): the waiter must Watch again.
func (p *Poller) Rearm(k Key) (ready, gone bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wt := p.watches[k]
	switch {
	case wt == nil:
		return false, true
	case wt.pending || wt.ended:
		wt.pending = false
		return true, false
	}
	wt.armed = true
	return false, false
}

// RearmCheck arms watch k of fd again and has the kernel look at the
// socket (one system call): for a waiter whose last read filled its
// buffer, so that bytes already there, which no new edge will announce,
// fire it. It reports gone as Rearm does.
func (p *Poller) RearmCheck(fd int, k Key) (gone bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wt := p.watches[k]
	if wt == nil {
		return true, nil
	}
	wt.armed, wt.pending = true, false
	ev := keyEvent(k, watchEvents)
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev); err != nil {
		wt.armed = false
		return false, os.NewSyscallError("epoll_ctl", err)
	}
	return false, nil
}

// Remove takes registration k of fd back, reporting whether it was still
// waiting (armed, for a watch): true means Ready will not run for it (the
// caller owns what the waiter would have done); false means Ready has run
// (or k is unknown). Either way fd leaves the epoll set, so that a fired
// registration does not outlive the descriptor while a duplicate keeps the
// socket open. A negative fd drops the record only (the descriptor is
// closed: it left the set with its close).
func (p *Poller) Remove(fd int, k Key) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running && fd >= 0 {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	}
	if k == 0 {
		return false
	}
	if wt, ok := p.watches[k]; ok {
		delete(p.watches, k)
		return wt.armed
	}
	if _, ok := p.waiters[k]; !ok {
		return false
	}
	delete(p.waiters, k)
	return true
}

// Len is the number of registrations waiting (watches armed included).
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.waiters)
	for _, wt := range p.watches {
		if wt.armed {
			n++
		}
	}
	return n
}

// Running reports whether the poller's goroutine runs.
func (p *Poller) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

func (p *Poller) startLocked() error {
	if p.running {
		return nil
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	p.epfd, p.running = epfd, true
	p.waiters = make(map[Key]Waiter)
	p.watches = make(map[Key]*watch)
	go p.loop(epfd, p.turn.Load(), nil)
	return nil
}

// loop is the poller's goroutine while turn is the poller's turn: it
// dispatches rest (what a handed-off wake-up left), then waits.
func (p *Poller) loop(epfd int, turn uint64, rest []syscall.EpollEvent) {
	events := make([]syscall.EpollEvent, maxEvents)
	linger := int(p.linger / time.Millisecond)
	if !p.dispatch(rest, turn) {
		return
	}
	for {
		n, err := syscall.EpollWait(epfd, events, linger)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			p.mu.Lock()
			p.failLocked(err)
			return
		}
		if !p.dispatch(events[:n], turn) {
			return // handed off: another goroutine is the poller's now
		}
		p.mu.Lock()
		if n == 0 && len(p.waiters) == 0 && len(p.watches) == 0 {
			// Nothing registered for a whole linger: end.
			p.stopLocked(epfd)
			return
		}
		p.mu.Unlock()
	}
}

// dispatch runs Ready for each event's registration, if still there. Each
// is taken under the lock (so that Remove and this decide who owns it) and
// run outside it. It reports false if a Ready handed the loop off.
func (p *Poller) dispatch(events []syscall.EpollEvent, turn uint64) bool {
	p.batch = events
	for i, ev := range events {
		k := Key(uint32(ev.Fd)) | Key(uint32(ev.Pad))<<32
		p.mu.Lock()
		w, ok := p.waiters[k]
		if ok {
			delete(p.waiters, k)
			p.events++
		} else if wt := p.watches[k]; wt != nil {
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				wt.ended = true
			}
			if ok = wt.armed; ok {
				wt.armed, w = false, wt.w
				p.events++
			} else {
				wt.pending = true // its waiter is busy: the next Rearm says so
			}
		}
		p.mu.Unlock()
		if ok {
			p.pos = i
			w.Ready()
			if p.turn.Load() != turn {
				return false
			}
		}
	}
	p.batch = nil
	return true
}

// Handoff makes a new goroutine the poller's, going on with the rest of
// the wake-up being dispatched; the caller's goroutine stops being the
// poller's when its Ready returns, and may block until then. Only a Ready
// running on the poller's goroutine may call it, once.
func (p *Poller) Handoff() {
	if p.batch == nil {
		return // a failed poller's last wake-up: its goroutine is ending anyway
	}
	rest := append([]syscall.EpollEvent(nil), p.batch[p.pos+1:]...)
	p.batch = nil
	turn := p.turn.Add(1)
	p.mu.Lock()
	epfd := p.epfd
	p.mu.Unlock()
	go p.loop(epfd, turn, rest)
}

// failLocked wakes every waiter after a failed wait, then ends the
// goroutine; the next Add starts over with a new epoll instance.
func (p *Poller) failLocked(err error) {
	woken := make([]Waiter, 0, len(p.waiters))
	for k, w := range p.waiters {
		delete(p.waiters, k)
		woken = append(woken, w)
	}
	for _, wt := range p.watches { // gone with the epoll instance: Rearm says so
		if wt.armed {
			woken = append(woken, wt.w)
		}
	}
	epfd, onErr := p.epfd, p.OnError
	p.stopLocked(epfd)
	for _, w := range woken {
		w.Ready() // outside the lock, as always; a new Add starts over
	}
	if onErr != nil {
		onErr(fmt.Errorf("etcp/poll: epoll_wait: %w (every parked socket was woken)", err))
	}
}

// stopLocked ends the running instance and unlocks p.
func (p *Poller) stopLocked(epfd int) {
	p.running, p.epfd, p.waiters, p.watches = false, -1, nil, nil
	p.mu.Unlock()
	syscall.Close(epfd)
}

// Supported is true where a Poller registers sockets.
const Supported = true
