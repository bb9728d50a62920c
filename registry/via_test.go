package registry_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
)

// mapRegistry is a user's own registry (etcp's {via, M, T}): a map under
// one lock, written outside package registry with its exported API only.
type mapRegistry struct {
	mu     sync.Mutex
	names  map[string]registry.Entry
	subs   map[int]func(registry.Event)
	nextID int
}

func newMapRegistry() *mapRegistry {
	return &mapRegistry{names: map[string]registry.Entry{}, subs: map[int]func(registry.Event){}}
}

func (r *mapRegistry) Register(name string, pid *actor.PID, meta registry.Meta) error {
	if name == "" || pid == nil {
		return registry.ErrInvalid
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.names[name]; ok && !old.PID.Equal(pid) {
		return fmt.Errorf("%w: %q", registry.ErrNameTaken, name)
	}
	e := registry.Entry{Name: name, PID: pid, Meta: meta}
	r.names[name] = e
	for _, fn := range r.subs {
		fn(registry.Event{Kind: registry.Registered, Entry: e})
	}
	return nil
}

func (r *mapRegistry) Unregister(name string, pid *actor.PID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.names[name]
	switch {
	case !ok:
		return registry.ErrNotFound
	case !e.PID.Equal(pid):
		return registry.ErrNotOwner
	}
	delete(r.names, name)
	for _, fn := range r.subs {
		fn(registry.Event{Kind: registry.Unregistered, Entry: e})
	}
	return nil
}

func (r *mapRegistry) Lookup(name string) (registry.Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.names[name]; ok {
		return e, nil
	}
	return registry.Entry{}, registry.ErrNotFound
}

func (r *mapRegistry) Select(q registry.Query) ([]registry.Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []registry.Entry
	for _, e := range r.names {
		if q.Owner == "" || e.Owner == q.Owner {
			out = append(out, e)
		}
	}
	return out, nil
}

func (r *mapRegistry) Subscribe(fn func(registry.Event)) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextID
	r.nextID++
	r.subs[id] = fn
	return func() { r.mu.Lock(); delete(r.subs, id); r.mu.Unlock() }, nil
}

// useRegistry is what a server or pool does with whatever Registry it is given.
func useRegistry(t *testing.T, r registry.Registry) {
	var events []registry.EventKind
	cancel, err := r.Subscribe(func(ev registry.Event) { events = append(events, ev.Kind) })
	require.NoError(t, err)
	defer cancel()
	p := pid("c1")
	require.NoError(t, r.Register("c1", p, registry.Meta{Owner: "srv"}))
	assert.ErrorIs(t, r.Register("c1", pid("other"), registry.Meta{}), registry.ErrNameTaken)
	e, err := r.Lookup("c1")
	require.NoError(t, err)
	assert.Equal(t, "srv", e.Owner)
	es, err := r.Select(registry.ByOwner("srv"))
	require.NoError(t, err)
	assert.Len(t, es, 1)
	assert.ErrorIs(t, r.Unregister("c1", pid("other")), registry.ErrNotOwner)
	require.NoError(t, r.Unregister("c1", p))
	_, err = r.Lookup("c1")
	assert.ErrorIs(t, err, registry.ErrNotFound)
}

// A registry written outside the package is accepted wherever a Registry is.
func TestViaCustomRegistry(t *testing.T) {
	var r registry.Registry = newMapRegistry()
	useRegistry(t, r)
	useRegistry(t, registry.NewLocal()) // the same code, the built-in kind
}
