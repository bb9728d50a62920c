package registry_test

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/registry"
)

// conns makes n connection PIDs and metadata, as a server would
// register them: the PID's id is the name, peers are distinct addresses
// when distinct is true, or all 127.0.0.1.
func conns(n int, distinct bool) ([]*actor.PID, []registry.Meta) {
	pids := make([]*actor.PID, n)
	metas := make([]registry.Meta, n)
	start := time.Now()
	local := netip.MustParseAddrPort("127.0.0.1:7000")
	for i := range n {
		pids[i] = actor.NewPID("nonhost", fmt.Sprintf("etcp/srv1/acceptor-%d/c%d", i%10+1, i))
		ip := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if distinct {
			ip = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		metas[i] = registry.Meta{
			Owner: "srv1", ConnID: uint64(i), Peer: netip.AddrPortFrom(ip, uint16(30000+i%30000)),
			Local: local, Transport: "tcp", Started: start,
		}
	}
	return pids, metas
}

func fill(b testing.TB, r *registry.Local, pids []*actor.PID, metas []registry.Meta) {
	for i, p := range pids {
		if err := r.Register(p.Id, p, metas[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// Lookup by name with 100,000 names registered (target: ≤ 100 ns, 0 allocs).
func BenchmarkLocalLookup(b *testing.B) {
	r := registry.NewLocal()
	pids, metas := conns(100_000, true)
	fill(b, r, pids, metas)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := r.Lookup(pids[i].Id); err != nil {
			b.Fatal(err)
		}
		i++
		if i == len(pids) {
			i = 0
		}
	}
}

// The baseline for BenchmarkLocalLookup in the same run: a plain Go map
// of the same 100,000 names to entries allocated one by one, behind one
// RWMutex, copying the entry out.
func BenchmarkMapBaselineLookup(b *testing.B) {
	pids, metas := conns(100_000, true)
	m := make(map[string]*registry.Entry, len(pids))
	for i, p := range pids {
		m[p.Id] = &registry.Entry{Name: p.Id, PID: p, Meta: metas[i]}
	}
	var mu sync.RWMutex
	var sink registry.Entry
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		mu.RLock()
		e := m[pids[i].Id]
		if e == nil {
			b.Fatal("missing")
		}
		sink = *e
		mu.RUnlock()
		i++
		if i == len(pids) {
			i = 0
		}
	}
	_ = sink
}

// The same, from every core at once.
func BenchmarkLocalLookupParallel(b *testing.B) {
	r := registry.NewLocal()
	pids, metas := conns(100_000, true)
	fill(b, r, pids, metas)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := r.Lookup(pids[i].Id); err != nil {
				b.Fatal(err)
			}
			i = (i + 7919) % len(pids)
		}
	})
}

// A connection's register and unregister, with 100,000 others registered.
func BenchmarkLocalRegisterUnregister(b *testing.B) {
	r := registry.NewLocal()
	pids, metas := conns(100_001, true)
	fill(b, r, pids[1:], metas[1:])
	p, m := pids[0], metas[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Register(p.Id, p, m); err != nil {
			b.Fatal(err)
		}
		if err := r.Unregister(p.Id, p); err != nil {
			b.Fatal(err)
		}
	}
}

// The same from every core at once, each on its own names.
func BenchmarkLocalRegisterUnregisterParallel(b *testing.B) {
	r := registry.NewLocal()
	pids, metas := conns(100_000, true)
	fill(b, r, pids[:50_000], metas[:50_000])
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		base := 50_000 + int(next.Add(1)-1)*1000
		i := 0
		for pb.Next() {
			k := base + i%1000
			if err := r.Register(pids[k].Id, pids[k], metas[k]); err != nil {
				b.Fatal(err)
			}
			if err := r.Unregister(pids[k].Id, pids[k]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// Select one owner's connections among 100,000 of four owners.
func BenchmarkLocalSelectOwner(b *testing.B) {
	r := registry.NewLocal()
	pids, metas := conns(100_000, true)
	for i := range metas {
		metas[i].Owner = fmt.Sprint("srv", i%4)
	}
	fill(b, r, pids, metas)
	b.ReportAllocs()
	for b.Loop() {
		es, _ := r.Select(registry.ByOwner("srv2"))
		if len(es) != 25_000 {
			b.Fatal(len(es))
		}
	}
}

// Register costs at most two allocations, Lookup none.
func TestLocalAllocs(t *testing.T) {
	r := registry.NewLocal()
	pids, metas := conns(10_001, true)
	fill(t, r, pids[1:], metas[1:])
	p, m := pids[0], metas[0]
	reg := testing.AllocsPerRun(1000, func() {
		_ = r.Register(p.Id, p, m)
		_ = r.Unregister(p.Id, p)
	})
	look := testing.AllocsPerRun(1000, func() { _, _ = r.Lookup(pids[5].Id) })
	miss := testing.AllocsPerRun(1000, func() { _, _ = r.Lookup("nope") })
	t.Logf("allocs: register+unregister %.1f, lookup %.1f, missed lookup %.1f", reg, look, miss)
	if reg > 2 || look != 0 || miss != 0 {
		t.Errorf("allocs: register+unregister %.1f (want ≤ 2), lookup %.1f and %.1f (want 0)", reg, look, miss)
	}
}

// Bytes per connection entry at 100,000 entries, after a GC: the
// registry's own memory (the PIDs and their names belong to the
// connections and are made before the first reading).
func TestLocalMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, distinct := range []bool{true, false} {
		pids, metas := conns(100_000, distinct)
		before := heap()
		r := registry.NewLocal()
		fill(t, r, pids, metas)
		after := heap()
		per := float64(after-before) / float64(len(pids))
		t.Logf("bytes/entry at 100,000 (distinct peer addresses: %v): %.0f", distinct, per)
		if per > 400 {
			t.Errorf("%.0f bytes/entry, want ≤ 400", per)
		}
		runtime.KeepAlive(r)
		runtime.KeepAlive(pids)
		runtime.KeepAlive(metas)
	}
}

func heap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
