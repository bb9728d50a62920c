package actors

import "sync"

// connList is the set of a group's connections, from their spawn to
// their end: what its owner supervises (Force, the idle sweep, Stats);
// listing and lookups go through the registry. It is kept
// inside the connections themselves: each one's process links into it,
// so a connection costs the list two pointers and no map entry, and a
// passivated connection keeps no addresses (they are read from its
// registry). It is sharded so that connections
// starting and ending on many goroutines do not contend on one lock.
type connList struct {
	shards [16]connShard
}

type connShard struct {
	sync.Mutex
	head *process
}

func (l *connList) shard(p *process) *connShard { return &l.shards[p.id%uint64(len(l.shards))] }

func (l *connList) add(p *process) {
	sh := l.shard(p)
	sh.Lock()
	p.prev, p.next = nil, sh.head
	if sh.head != nil {
		sh.head.prev = p
	}
	sh.head = p
	sh.Unlock()
}

func (l *connList) remove(p *process) {
	sh := l.shard(p)
	sh.Lock()
	if p.prev != nil {
		p.prev.next = p.next
	} else if sh.head == p {
		sh.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	}
	p.prev, p.next = nil, nil
	sh.Unlock()
}

// each calls f for every connection, one shard locked at a time.
func (l *connList) each(f func(*process)) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.Lock()
		for p := sh.head; p != nil; p = p.next {
			f(p)
		}
		sh.Unlock()
	}
}

// stats counts the connections by their states.
func (l *connList) stats() (s Stats) {
	l.each(func(p *process) {
		one := p.stats()
		if one.Up == 0 {
			return
		}
		s.Up++
		s.Reading += one.Reading
		s.Parked += one.Parked
		s.Passivated += one.Passivated
		s.Busy += one.Busy
	})
	return s
}

// stats counts one connection; all zero while it starts or once closed.
func (p *process) stats() (s Stats) {
	st := p.st.load()
	if !st.up() {
		return s
	}
	s.Up = 1
	switch {
	case st.holdsGoroutine():
		s.Reading = 1
	case st == stParked:
		s.Parked = 1
	case st == stAsleep:
		s.Passivated = 1
	}
	if mb := p.mb.Load(); mb != nil && mb.running.Load() {
		s.Busy = 1
	}
	return s
}
