//go:build linux

package poll

import (
	"fmt"
	"os"
	"sync"
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
	waiters map[Key]Waiter
	next    Key
	events  int // wake-ups handled, for tests
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

// Add registers fd for w: once fd is readable (or closed by the peer),
// Ready runs once, unless Remove takes the registration back first. A
// descriptor registered before and fired is armed again.
func (p *Poller) Add(fd int, w Waiter) (Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.startLocked(); err != nil {
		return 0, err
	}
	p.next++
	k := p.next
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	ev.Fd, ev.Pad = int32(uint32(k)), int32(uint32(k>>32))
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	if err == syscall.EEXIST {
		// Registered before: a fired one-shot registration stays in the
		// set, disabled, until it is armed again.
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	}
	if err != nil {
		return 0, os.NewSyscallError("epoll_ctl", err)
	}
	p.waiters[k] = w
	return k, nil
}

// Remove takes registration k of fd back, reporting whether it was still
// waiting: true means Ready will not run for it (the caller owns what the
// waiter would have done); false means Ready has run (or k is unknown).
// Either way fd leaves the epoll set, so that a fired registration does
// not outlive the descriptor while a duplicate keeps the socket open.
func (p *Poller) Remove(fd int, k Key) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running && fd >= 0 {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	}
	if _, ok := p.waiters[k]; !ok || k == 0 {
		return false
	}
	delete(p.waiters, k)
	return true
}

// Len is the number of registrations waiting.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
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
	go p.loop(epfd)
	return nil
}

func (p *Poller) loop(epfd int) {
	events := make([]syscall.EpollEvent, maxEvents)
	linger := int(p.linger / time.Millisecond)
	for {
		n, err := syscall.EpollWait(epfd, events, linger)
		if err == syscall.EINTR {
			continue
		}
		p.mu.Lock()
		if err != nil {
			p.failLocked(err)
			return
		}
		for _, ev := range events[:n] {
			k := Key(uint32(ev.Fd)) | Key(uint32(ev.Pad))<<32
			if w, ok := p.waiters[k]; ok {
				delete(p.waiters, k)
				p.events++
				w.Ready()
			}
		}
		if n == 0 && len(p.waiters) == 0 {
			// Nothing registered for a whole linger: end.
			p.stopLocked(epfd)
			return
		}
		p.mu.Unlock()
	}
}

// failLocked wakes every waiter after a failed wait, then ends the
// goroutine; the next Add starts over with a new epoll instance.
func (p *Poller) failLocked(err error) {
	for k, w := range p.waiters {
		delete(p.waiters, k)
		w.Ready()
	}
	epfd, onErr := p.epfd, p.OnError
	p.stopLocked(epfd)
	if onErr != nil {
		onErr(fmt.Errorf("etcp/poll: epoll_wait: %w (every parked socket was woken)", err))
	}
}

// stopLocked ends the running instance and unlocks p.
func (p *Poller) stopLocked(epfd int) {
	p.running, p.epfd, p.waiters = false, -1, nil
	p.mu.Unlock()
	syscall.Close(epfd)
}

// Supported is true where a Poller registers sockets.
const Supported = true
