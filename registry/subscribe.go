package registry

import (
	"slices"
	"sync"
	"sync/atomic"
)

// subscriber delivers events to one Subscribe function, in its own
// goroutine, in the order they were queued. Queuing never blocks the
// registry: the queue grows while fn is slow.
type subscriber struct {
	fn     func(Event)
	mu     sync.Mutex
	queue  []Event
	spare  []Event // the run goroutine's other buffer
	closed atomic.Bool
	wake   chan struct{}
	done   chan struct{}
}

func (sub *subscriber) push(ev Event) {
	sub.mu.Lock()
	if sub.closed.Load() {
		sub.mu.Unlock()
		return
	}
	sub.queue = append(sub.queue, ev)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (sub *subscriber) run() {
	for {
		select {
		case <-sub.wake:
		case <-sub.done:
			return
		}
		for {
			sub.mu.Lock()
			q := sub.queue
			if len(q) == 0 {
				sub.mu.Unlock()
				break
			}
			sub.queue, sub.spare = sub.spare[:0], nil
			sub.mu.Unlock()
			for i := range q {
				if sub.closed.Load() {
					return
				}
				sub.fn(q[i])
			}
			clear(q)
			sub.spare = q[:0]
		}
	}
}

// subscribe starts delivering events to fn; see [Registry.Subscribe].
func (s *store) subscribe(fn func(Event)) (cancel func(), err error) {
	if fn == nil {
		return nil, ErrInvalid
	}
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.subMu.Lock()
	var list []*subscriber
	if old := s.subs.Load(); old != nil {
		list = slices.Clone(*old)
	}
	list = append(list, sub)
	s.subs.Store(&list)
	s.subMu.Unlock()
	go sub.run()
	var once sync.Once
	return func() { once.Do(func() { s.unsubscribe(sub) }) }, nil
}

func (s *store) unsubscribe(sub *subscriber) {
	s.subMu.Lock()
	if old := s.subs.Load(); old != nil {
		list := slices.DeleteFunc(slices.Clone(*old), func(x *subscriber) bool { return x == sub })
		s.subs.Store(&list)
	}
	s.subMu.Unlock()
	sub.mu.Lock()
	already := sub.closed.Swap(true)
	sub.queue = nil
	sub.mu.Unlock()
	if !already {
		close(sub.done)
	}
}

// closeSubscribers cancels every subscription (a Cluster's Close).
func (s *store) closeSubscribers() {
	s.subMu.Lock()
	old := s.subs.Load()
	s.subs.Store(nil)
	s.subMu.Unlock()
	if old == nil {
		return
	}
	for _, sub := range *old {
		sub.mu.Lock()
		already := sub.closed.Swap(true)
		sub.queue = nil
		sub.mu.Unlock()
		if !already {
			close(sub.done)
		}
	}
}
