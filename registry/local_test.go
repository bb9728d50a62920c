package registry_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
)

func pid(id string) *actor.PID { return actor.NewPID("nonhost", id) }

func connMeta(owner string, id uint64, peer string) registry.Meta {
	return registry.Meta{
		Owner:     owner,
		ConnID:    id,
		Peer:      netip.MustParseAddrPort(peer),
		Local:     netip.MustParseAddrPort("127.0.0.1:7000"),
		Transport: "tcp",
		Started:   time.Unix(1700000000, int64(id)),
	}
}

func TestLocalRegisterLookupUnregister(t *testing.T) {
	r := registry.NewLocal()
	p, q := pid("c1"), pid("c2")
	m := connMeta("srv", 1, "10.0.0.1:4000")
	m.Tags = []registry.Tag{{"user", "ann"}}
	require.NoError(t, r.Register("c1", p, m))

	e, err := r.Lookup("c1")
	require.NoError(t, err)
	assert.Equal(t, "c1", e.Name)
	assert.Same(t, p, e.PID)
	assert.Equal(t, "srv", e.Owner)
	assert.Equal(t, uint64(1), e.ConnID)
	assert.Equal(t, m.Peer, e.Peer)
	assert.Equal(t, m.Local, e.Local)
	assert.Equal(t, "tcp", e.Transport)
	assert.True(t, m.Started.Equal(e.Started))
	v, ok := e.Tag("user")
	assert.True(t, ok)
	assert.Equal(t, "ann", v)
	assert.Empty(t, e.Node)

	err = r.Register("c1", q, m)
	assert.ErrorIs(t, err, registry.ErrNameTaken)
	assert.ErrorIs(t, r.Unregister("c1", q), registry.ErrNotOwner)
	assert.ErrorIs(t, r.Unregister("nope", p), registry.ErrNotFound)
	_, err = r.Lookup("nope")
	assert.ErrorIs(t, err, registry.ErrNotFound)
	assert.ErrorIs(t, r.Register("", p, m), registry.ErrInvalid)
	assert.ErrorIs(t, r.Register("x", nil, m), registry.ErrInvalid)

	// The same PID may register again: its metadata is replaced.
	m2 := connMeta("srv2", 1, "10.0.0.2:4000")
	require.NoError(t, r.Register("c1", pid("c1"), m2))
	e, err = r.Lookup("c1")
	require.NoError(t, err)
	assert.Equal(t, "srv2", e.Owner)
	got, _ := r.Select(registry.ByOwner("srv"))
	assert.Empty(t, got)
	got, _ = r.Select(registry.ByPeer(netip.MustParseAddrPort("10.0.0.1:4000")))
	assert.Empty(t, got)
	assert.Equal(t, 1, r.Len())

	require.NoError(t, r.Unregister("c1", p))
	_, err = r.Lookup("c1")
	assert.ErrorIs(t, err, registry.ErrNotFound)
	assert.Equal(t, 0, r.Len())
}

func TestLocalSelect(t *testing.T) {
	r := registry.NewLocal()
	for i := range 300 {
		owner := fmt.Sprintf("srv%d", i%3)
		peer := fmt.Sprintf("10.0.%d.%d:%d", i%5, i%5, 1000+i)
		m := connMeta(owner, uint64(i), peer)
		if i%10 == 0 {
			m.Tags = []registry.Tag{{"vip", "yes"}}
		}
		require.NoError(t, r.Register(fmt.Sprint("c", i), pid(fmt.Sprint("c", i)), m))
	}
	names := func(es []registry.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		slices.Sort(out)
		return out
	}
	want := func(f func(i int) bool) []string {
		var out []string
		for i := range 300 {
			if f(i) {
				out = append(out, fmt.Sprint("c", i))
			}
		}
		slices.Sort(out)
		return out
	}

	got, err := r.Select(registry.ByOwner("srv1"))
	require.NoError(t, err)
	assert.Equal(t, want(func(i int) bool { return i%3 == 1 }), names(got))

	got, _ = r.Select(registry.ByPeer(netip.MustParseAddrPort("10.0.2.2:0")))
	assert.Equal(t, want(func(i int) bool { return i%5 == 2 }), names(got))

	got, _ = r.Select(registry.ByPeer(netip.MustParseAddrPort("10.0.2.2:1007")))
	assert.Equal(t, []string{"c7"}, names(got))

	got, _ = r.Select(registry.ByTag("vip", "yes"))
	assert.Equal(t, want(func(i int) bool { return i%10 == 0 }), names(got))

	got, _ = r.Select(registry.Query{Owner: "srv0", Peer: netip.MustParseAddrPort("10.0.3.3:0")})
	assert.Equal(t, want(func(i int) bool { return i%3 == 0 && i%5 == 3 }), names(got))

	got, _ = r.Select(registry.Query{})
	assert.Len(t, got, 300)

	// Unregistering from the middle, head and tail of the lists keeps them right.
	for i := 0; i < 300; i += 2 {
		require.NoError(t, r.Unregister(fmt.Sprint("c", i), pid(fmt.Sprint("c", i))))
	}
	got, _ = r.Select(registry.ByOwner("srv1"))
	assert.Equal(t, want(func(i int) bool { return i%2 == 1 && i%3 == 1 }), names(got))
	got, _ = r.Select(registry.ByPeer(netip.MustParseAddrPort("10.0.4.4:0")))
	assert.Equal(t, want(func(i int) bool { return i%2 == 1 && i%5 == 4 }), names(got))
}

// 1,000 goroutines register and unregister at once; what is left is
// exactly what each kept, and subscribers saw every change exactly once.
func TestLocalConcurrent(t *testing.T) {
	r := registry.NewLocal()
	const workers, perWorker = 1000, 20
	var regs, unregs sync.Map // name -> *atomic.Int32
	count := func(m *sync.Map, name string) {
		v, _ := m.LoadOrStore(name, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
	}
	var events atomic.Int64
	cancel, err := r.Subscribe(func(ev registry.Event) {
		events.Add(1)
		switch ev.Kind {
		case registry.Registered:
			count(&regs, ev.Entry.Name)
		case registry.Unregistered:
			count(&unregs, ev.Entry.Name)
		}
	})
	require.NoError(t, err)
	defer cancel()

	var wg sync.WaitGroup
	var taken atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("w%d-%d", w, i)
				p := pid(name)
				if err := r.Register(name, p, connMeta(fmt.Sprint("srv", w%7), uint64(i), "10.1.1.1:80")); err != nil {
					t.Error(err)
					return
				}
				// Everyone also races for a shared name.
				shared := fmt.Sprint("shared-", i)
				if err := r.Register(shared, p, registry.Meta{}); err == nil {
					taken.Add(1)
					if err := r.Unregister(shared, p); err != nil {
						t.Error(err)
					}
				} else if !errors.Is(err, registry.ErrNameTaken) {
					t.Error(err)
				}
				if i%2 == 1 { // keep the even ones
					if err := r.Unregister(name, p); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()

	all, err := r.Select(registry.Query{})
	require.NoError(t, err)
	var names []string
	for _, e := range all {
		names = append(names, e.Name)
	}
	var want []string
	for w := range workers {
		for i := 0; i < perWorker; i += 2 {
			want = append(want, fmt.Sprintf("w%d-%d", w, i))
		}
	}
	slices.Sort(names)
	slices.Sort(want)
	require.Equal(t, want, names)
	assert.Equal(t, len(want), r.Len())
	byOwner, _ := r.Select(registry.ByOwner("srv3"))
	n := 0
	for w := range workers {
		if w%7 == 3 {
			n += perWorker / 2
		}
	}
	assert.Len(t, byOwner, n)

	// Every register and unregister produced exactly one event.
	total := int64(workers*perWorker) + int64(workers*perWorker/2) + 2*taken.Load()
	require.Eventually(t, func() bool { return events.Load() >= total }, 10*time.Second, time.Millisecond)
	assert.Equal(t, total, events.Load())
	for w := range workers {
		for i := range perWorker {
			name := fmt.Sprintf("w%d-%d", w, i)
			v, ok := regs.Load(name)
			require.True(t, ok, name)
			assert.Equal(t, int32(1), v.(*atomic.Int32).Load(), name)
			v, ok = unregs.Load(name)
			if i%2 == 1 {
				require.True(t, ok, name)
				assert.Equal(t, int32(1), v.(*atomic.Int32).Load(), name)
			} else {
				assert.False(t, ok, name)
			}
		}
	}
}

// Events of one name arrive in order, each once, and stop at cancel.
func TestLocalSubscribe(t *testing.T) {
	r := registry.NewLocal()
	var mu sync.Mutex
	var got []string
	cancel, err := r.Subscribe(func(ev registry.Event) {
		mu.Lock()
		got = append(got, fmt.Sprintf("%v %s %s", ev.Kind, ev.Entry.Name, ev.Entry.Owner))
		mu.Unlock()
	})
	require.NoError(t, err)
	p := pid("a")
	require.NoError(t, r.Register("a", p, registry.Meta{Owner: "one"}))
	require.NoError(t, r.Register("a", p, registry.Meta{Owner: "two"}))
	require.NoError(t, r.Unregister("a", p))
	want := []string{"registered a one", "unregistered a one", "registered a two", "unregistered a two"}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == len(want) }, 5*time.Second, time.Millisecond)
	mu.Lock()
	assert.Equal(t, want, got)
	mu.Unlock()

	cancel()
	cancel() // twice is harmless
	require.NoError(t, r.Register("b", p, registry.Meta{}))
	time.Sleep(20 * time.Millisecond) // nothing may arrive: give it the chance
	mu.Lock()
	assert.Len(t, got, len(want))
	mu.Unlock()

	_, err = r.Subscribe(nil)
	assert.ErrorIs(t, err, registry.ErrInvalid)
}

func TestNone(t *testing.T) {
	r := registry.None()
	require.NoError(t, r.Register("a", pid("a"), registry.Meta{}))
	require.NoError(t, r.Unregister("a", pid("a")))
	_, err := r.Lookup("a")
	assert.ErrorIs(t, err, registry.ErrNoRegistry)
	_, err = r.Select(registry.ByOwner("srv"))
	assert.ErrorIs(t, err, registry.ErrNoRegistry)
	_, err = r.Subscribe(func(registry.Event) {})
	assert.ErrorIs(t, err, registry.ErrNoRegistry)
}
