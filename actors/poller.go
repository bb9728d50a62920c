//go:build linux

package actors

import (
	"os"
	"sync"
	"syscall"
)

// The shared poller parks idle and hibernated connections without a
// goroutine each. A parked socket is registered (one-shot, level-triggered)
// with one epoll instance; one goroutine waits on it for every parked
// socket of the process, and when a socket becomes readable (bytes, or the
// peer closing) it calls the parked one's ready in a new goroutine: a
// connection's reader starts again, a passivated connection wakes
// (passivate.go). The goroutine exists only while something is parked, so
// an idle process (and a test under goleak) has none once it has lingered
// a moment. Go's own netpoller
// keeps its registration of a live socket; epoll allows a descriptor in
// several sets.

const pollerEvents = 256

// pollee is what waits on the poller.
type pollee interface{ ready() }

type poller struct {
	mu      sync.Mutex
	epfd    int
	parked  map[uint64]pollee
	nextTok uint64
	running bool
}

var sharedPoller = &poller{epfd: -1}

// canPark is true where the shared poller exists.
const canPark = true

// park registers fd for who, storing the registration's token in *tok
// under the poller's lock. It reports false when fd cannot be parked.
func (p *poller) park(fd int, who pollee, tok *uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.startLocked(); err != nil {
		return false
	}
	p.nextTok++
	t := p.nextTok
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	ev.Fd, ev.Pad = int32(uint32(t)), int32(uint32(t>>32))
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	if err == syscall.EEXIST {
		// Parked before: a fired one-shot registration stays in the set,
		// disabled, until re-armed.
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	}
	if err != nil {
		return false
	}
	*tok = t
	p.parked[t] = who
	return true
}

// unpark takes who out if it is still parked under *tok, reporting
// whether it was (the caller then owns what the poller would have
// started). fd (if not negative) leaves the epoll set; with always, even
// when the poller already fired: a fired one-shot registration outlives
// the descriptor while a duplicate of it keeps the socket open.
func (p *poller) unpark(fd int, always bool, who pollee, tok *uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	found := *tok != 0 && p.parked[*tok] == who
	if fd >= 0 && p.running && (found || always) {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	}
	if !found {
		return false
	}
	delete(p.parked, *tok)
	*tok = 0
	return true
}

func (p *poller) startLocked() error {
	if p.running {
		return nil
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	p.epfd, p.running = epfd, true
	p.parked = make(map[uint64]pollee)
	go p.loop(epfd)
	return nil
}

// pollerLinger is how long the poller waits with nothing parked before
// its goroutine ends: connections that park and wake in quick succession
// (a hibernate after every packet) keep one poller instead of making and
// ending one each time.
const pollerLinger = 100 // ms

func (p *poller) loop(epfd int) {
	events := make([]syscall.EpollEvent, pollerEvents)
	for {
		n, err := syscall.EpollWait(epfd, events, pollerLinger)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			n = 0
		}
		for _, ev := range events[:n] {
			tok := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			who := p.parked[tok]
			delete(p.parked, tok)
			p.mu.Unlock()
			if who != nil {
				go who.ready()
			}
		}
		if n > 0 {
			continue
		}
		p.mu.Lock()
		if err != nil || len(p.parked) == 0 {
			// Nothing parked for a whole linger (or the set failed): end.
			p.running, p.epfd, p.parked = false, -1, nil
			p.mu.Unlock()
			syscall.Close(epfd)
			return
		}
		p.mu.Unlock()
	}
}
