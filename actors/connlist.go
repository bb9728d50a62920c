package actors

import (
	"cmp"
	"slices"
	"sync"
)

// ConnList is the set of an owner's live connections (set it as
// [Config.Conns]). It is kept inside the connections themselves: each
// one's process links into it, so a connection costs the list two
// pointers and no map entry, and a passivated connection keeps no
// addresses (they are read from its socket when the list is read).
type ConnList struct {
	shards [16]connShard
}

type connShard struct {
	sync.Mutex
	head *process
}

func (l *ConnList) shard(p *process) *connShard { return &l.shards[p.id%uint64(len(l.shards))] }

func (l *ConnList) add(p *process) {
	sh := l.shard(p)
	sh.Lock()
	p.prev, p.next = nil, sh.head
	if sh.head != nil {
		sh.head.prev = p
	}
	sh.head = p
	sh.Unlock()
}

func (l *ConnList) remove(p *process) {
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

// List describes the connections, sorted by ID.
func (l *ConnList) List() []ConnInfo {
	var out []ConnInfo
	for i := range l.shards {
		sh := &l.shards[i]
		sh.Lock()
		for p := sh.head; p != nil; p = p.next {
			out = append(out, p.info())
		}
		sh.Unlock()
	}
	slices.SortFunc(out, func(a, b ConnInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
