package registry

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// Local is the in-process [Registry], the default of every server, pool
// and client: etcp's ETS table. It is split into 64 independently locked
// shards by a hash of the name, so registrations of different names
// rarely contend; lookups take a shard's read lock only. Select by owner
// or by peer address walks per-shard lists threaded through the entries,
// so it costs the size of the answer, not of the registry.
//
// The zero value is not usable; call [NewLocal].
type Local struct {
	s store
}

var _ Registry = (*Local)(nil)

// NewLocal returns an empty local registry.
func NewLocal() *Local {
	l := &Local{}
	l.s.init()
	return l
}

// Register implements [Registry]. It costs one allocation (the entry).
func (l *Local) Register(name string, pid *actor.PID, meta Meta) error {
	if name == "" || pid == nil {
		return ErrInvalid
	}
	e := newEntry(name, pid, &meta)
	h, sh := l.s.shard(name)
	e.h = h
	sh.mu.Lock()
	if old := sh.get(h, name); old != nil {
		if !samePID(old.pid, pid) {
			sh.mu.Unlock()
			return fmt.Errorf("%w: %q", ErrNameTaken, name)
		}
		l.s.remove(sh, old, ReasonNone)
	}
	l.s.insert(sh, e)
	sh.mu.Unlock()
	return nil
}

// Unregister implements [Registry].
func (l *Local) Unregister(name string, pid *actor.PID) error {
	h, sh := l.s.shard(name)
	sh.mu.Lock()
	e := sh.get(h, name)
	switch {
	case e == nil:
		sh.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	case !samePID(e.pid, pid):
		sh.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNotOwner, name)
	}
	l.s.remove(sh, e, ReasonNone)
	sh.mu.Unlock()
	return nil
}

// Lookup implements [Registry]; it allocates nothing. A missing name
// returns [ErrNotFound] itself, unwrapped.
func (l *Local) Lookup(name string) (Entry, error) { return l.s.lookup(name) }

// Select implements [Registry]; it never fails.
func (l *Local) Select(q Query) ([]Entry, error) { return l.s.selectEntries(q), nil }

// Subscribe implements [Registry]. fn runs in a goroutine of its own, one
// event at a time, in the order the changes were made for any one name;
// it may call the registry. After cancel returns no new call of fn
// starts (one already running finishes), and the goroutine exits.
func (l *Local) Subscribe(fn func(Event)) (cancel func(), err error) { return l.s.subscribe(fn) }

// Len returns the number of entries.
func (l *Local) Len() int { return int(l.s.n.Load()) }

// Owners returns the owners of the entries (Meta.Owner; entries without
// one are not counted), each once, in no order. It costs the number of owners, not
// of entries: with it and ByOwner, a supervisor finds the connections of
// owners it does not know (client connections) without a walk of every
// entry.
func (l *Local) Owners() []string { return l.s.ownerNames() }
