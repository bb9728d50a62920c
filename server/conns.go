package server

import (
	"cmp"
	"slices"
	"sync"

	"github.com/etcp-go/etcp/actors"
)

// connSet is the server's list of live connections: sharded plain maps,
// which cost about half what a sync.Map entry does per connection.
type connSet struct {
	shards [32]struct {
		sync.Mutex
		m map[uint64]actors.ConnInfo
	}
}

func (s *connSet) add(info actors.ConnInfo) {
	sh := &s.shards[info.ID%uint64(len(s.shards))]
	sh.Lock()
	if sh.m == nil {
		sh.m = make(map[uint64]actors.ConnInfo)
	}
	sh.m[info.ID] = info
	sh.Unlock()
}

func (s *connSet) remove(id uint64) {
	sh := &s.shards[id%uint64(len(s.shards))]
	sh.Lock()
	delete(sh.m, id)
	sh.Unlock()
}

// list returns the connections sorted by id.
func (s *connSet) list() []actors.ConnInfo {
	var out []actors.ConnInfo
	for i := range s.shards {
		sh := &s.shards[i]
		sh.Lock()
		for _, info := range sh.m {
			out = append(out, info)
		}
		sh.Unlock()
	}
	slices.SortFunc(out, func(a, b actors.ConnInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
