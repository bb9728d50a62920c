package registry

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// nShards is how many independently locked parts a store has: a register
// contends only with the names that hash to the same part.
const nShards = 64

// entry is one registration as the store keeps it. Its content never
// changes once it is in the store (a new registration of the same name
// replaces the entry); only the index links do, under the shard's lock.
// 208 bytes on 64-bit platforms, a size class of its own.
type entry struct {
	h         uint64 // the name's hash in its store
	name      string
	pid       *actor.PID
	owner     string
	transport string
	peer      netip.AddrPort
	local     netip.AddrPort
	connID    uint64
	started   int64 // Unix nanoseconds; 0 = unset
	tags      []Tag
	x         *clusterInfo // nil in a Local registry

	ownerPrev, ownerNext *entry // the owner's list, in this shard
	peerPrev, peerNext   *entry // the peer address's list, in this shard
}

// clusterInfo is what a Cluster entry keeps besides a Local one.
type clusterInfo struct {
	node string // the holding node's address
	reg  int64  // registration time, Unix nanoseconds: on the holding node, or when first heard of here if earlier
	ver  uint64 // the holding node's registration number
	// beat is the node whose registration of the same name this one
	// displaced here in a conflict, or won against. Unlike the rest of
	// the entry it may change while the entry is stored, under the
	// shard's write lock; only the registry actor reads it.
	beat string
}

func newEntry(name string, pid *actor.PID, m *Meta) *entry {
	e := &entry{
		name:      name,
		pid:       pid,
		owner:     m.Owner,
		transport: m.Transport,
		peer:      m.Peer,
		local:     m.Local,
		connID:    m.ConnID,
		tags:      slices.Clone(m.Tags), // the caller's slice stays the caller's
	}
	if !m.Started.IsZero() {
		e.started = m.Started.UnixNano()
	}
	return e
}

func (e *entry) export() Entry {
	out := Entry{
		Name: e.name,
		PID:  e.pid,
		Meta: Meta{
			Owner:     e.owner,
			ConnID:    e.connID,
			Peer:      e.peer,
			Local:     e.local,
			Transport: e.transport,
			Tags:      slices.Clone(e.tags), // changing a result must not change the registry
		},
	}
	if e.started != 0 {
		out.Started = time.Unix(0, e.started)
	}
	if e.x != nil {
		out.Node = e.x.node
		out.Registered = time.Unix(0, e.x.reg)
	}
	return out
}

func (e *entry) node() string {
	if e.x == nil {
		return ""
	}
	return e.x.node
}

func (e *entry) matches(q *Query) bool {
	if q.Owner != "" && e.owner != q.Owner {
		return false
	}
	if q.Peer.Addr().IsValid() {
		if e.peer.Addr() != q.Peer.Addr() || (q.Peer.Port() != 0 && e.peer.Port() != q.Peer.Port()) {
			return false
		}
	}
	if q.Node != "" && e.node() != q.Node {
		return false
	}
	for _, want := range q.Tags {
		found := false
		for _, t := range e.tags {
			if t == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// samePID reports whether a and b name the same actor.
func samePID(a, b *actor.PID) bool {
	return a == b || (a != nil && b != nil && a.Id == b.Id && a.Address == b.Address)
}

// pendingOp is a change a Cluster has made to its own names and not yet
// sent to its peers.
type pendingOp struct {
	e          *entry
	unregister bool
}

type shard struct {
	mu     sync.RWMutex
	names  index
	owners map[string]*entry     // owner -> head of its list
	peers  map[netip.Addr]*entry // peer address -> head of its list
	// pending is used by a Cluster only: its own changes, in the order
	// they were made, until its actor sends them.
	pending []pendingOp
	_       [128 - 24 - 32 - 2*8 - 24]byte // one shard per two cache lines
}

// store is the sharded table under Local and Cluster.
type store struct {
	seed   maphash.Seed
	shards [nShards]shard
	subMu  sync.Mutex                    // serialises changes to subs
	subs   atomic.Pointer[[]*subscriber] // copied on write
	n      atomic.Int64                  // entries
}

func (s *store) init() {
	s.seed = maphash.MakeSeed()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.owners = make(map[string]*entry)
		sh.peers = make(map[netip.Addr]*entry)
	}
}

// shard returns the name's hash and shard. The hash's low bits pick the
// shard, higher ones the place in the shard's index.
func (s *store) shard(name string) (uint64, *shard) {
	h := maphash.String(s.seed, name)
	return h, &s.shards[h%nShards]
}

// get returns the entry named name, or nil. The shard is locked.
func (sh *shard) get(h uint64, name string) *entry { return sh.names.get(h, name) }

// insert adds e, whose name must be free and whose h must be set. The
// shard is locked.
func (s *store) insert(sh *shard, e *entry) {
	sh.names.put(e.h, e)
	if e.owner != "" {
		head := sh.owners[e.owner]
		e.ownerNext = head
		if head != nil {
			head.ownerPrev = e
		}
		sh.owners[e.owner] = e
	}
	if a := e.peer.Addr(); a.IsValid() {
		head := sh.peers[a]
		e.peerNext = head
		if head != nil {
			head.peerPrev = e
		}
		sh.peers[a] = e
	}
	s.n.Add(1)
	s.emit(Registered, e, ReasonNone)
}

// remove takes e out. The shard is locked.
func (s *store) remove(sh *shard, e *entry, why Reason) {
	sh.names.del(e.h, e)
	if e.owner != "" {
		if e.ownerPrev != nil {
			e.ownerPrev.ownerNext = e.ownerNext
		} else if e.ownerNext != nil {
			sh.owners[e.owner] = e.ownerNext
		} else {
			delete(sh.owners, e.owner)
		}
		if e.ownerNext != nil {
			e.ownerNext.ownerPrev = e.ownerPrev
		}
		e.ownerPrev, e.ownerNext = nil, nil
	}
	if a := e.peer.Addr(); a.IsValid() {
		if e.peerPrev != nil {
			e.peerPrev.peerNext = e.peerNext
		} else if e.peerNext != nil {
			sh.peers[a] = e.peerNext
		} else {
			delete(sh.peers, a)
		}
		if e.peerNext != nil {
			e.peerNext.peerPrev = e.peerPrev
		}
		e.peerPrev, e.peerNext = nil, nil
	}
	s.n.Add(-1)
	s.emit(Unregistered, e, why)
}

// emit queues an event for every subscriber. The shard is locked, so the
// events of one name reach each subscriber in the order they happened.
func (s *store) emit(k EventKind, e *entry, why Reason) {
	subs := s.subs.Load()
	if subs == nil || len(*subs) == 0 {
		return
	}
	ev := Event{Kind: k, Entry: e.export(), Reason: why}
	for _, sub := range *subs {
		sub.push(ev)
	}
}

func (s *store) lookup(name string) (Entry, error) {
	h, sh := s.shard(name)
	sh.mu.RLock()
	e := sh.names.get(h, name)
	if e == nil {
		sh.mu.RUnlock()
		return Entry{}, ErrNotFound
	}
	out := e.export()
	sh.mu.RUnlock()
	return out, nil
}

// selectEntries walks the owner's or the peer's lists when q names one,
// and every entry otherwise.
// ownerNames returns the owners of the entries, each once: one lock and
// one map walk per shard, whatever the number of entries.
func (s *store) ownerNames() []string {
	seen := map[string]bool{}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for o := range sh.owners {
			seen[o] = true
		}
		sh.mu.RUnlock()
	}
	out := make([]string, 0, len(seen))
	for o := range seen {
		out = append(out, o)
	}
	return out
}

func (s *store) selectEntries(q Query) []Entry {
	var out []Entry
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		switch {
		case q.Owner != "":
			for e := sh.owners[q.Owner]; e != nil; e = e.ownerNext {
				if e.matches(&q) {
					out = append(out, e.export())
				}
			}
		case q.Peer.Addr().IsValid():
			for e := sh.peers[q.Peer.Addr()]; e != nil; e = e.peerNext {
				if e.matches(&q) {
					out = append(out, e.export())
				}
			}
		default:
			sh.names.all(func(e *entry) bool {
				if e.matches(&q) {
					out = append(out, e.export())
				}
				return true
			})
		}
		sh.mu.RUnlock()
	}
	return out
}
