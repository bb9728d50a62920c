package poll

import "syscall"

// breakEpoll closes the poller's epoll instance behind its back, so that
// its next wait fails.
func (p *Poller) breakEpoll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	syscall.Close(p.epfd)
}

// Events is how many registrations have fired.
func (p *Poller) Events() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events
}
