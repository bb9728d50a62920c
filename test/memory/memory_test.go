package memory_test

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// conns is how many connections each case holds (ETCP_MEMORY_CONNS, 5,000
// by default: enough for protoactor's registry to reach its steady shape).
func conns(tb testing.TB) int {
	n := 5000
	if s := os.Getenv("ETCP_MEMORY_CONNS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			tb.Fatalf("ETCP_MEMORY_CONNS=%q: want a positive count", s)
		}
		n = v
	}
	return n
}

// usage is the memory that counts against a connection: live heap,
// goroutines and their stacks.
type usage struct {
	heap, stack uint64
	goroutines  int
}

// measure collects the garbage and returns freed stacks and pages
// (FreeOSMemory, twice, so that finalisers' leftovers go too), then reads
// the live heap, the stacks in use and the goroutines.
func measure() usage {
	debug.FreeOSMemory()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{heap: ms.HeapAlloc, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

// report puts the growth from before to after, per connection, on b. The
// stacks' figure is the stack memory in use, which also holds stacks that
// the runtime keeps for reuse: goroutines/conn says how many are live.
func report(b *testing.B, before, after usage, n int) {
	per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) }
	heap, stack := per(after.heap, before.heap), per(after.stack, before.stack)
	b.ReportMetric(heap, "heap-B/conn")
	b.ReportMetric(stack, "stack-B/conn")
	b.ReportMetric(heap+stack, "B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/conn")
}

// rawDial opens n connections to addr from raw descriptors, so that the
// client side adds nothing to this process's heap, and closes them when
// the benchmark ends.
func rawDial(b *testing.B, addr net.Addr, n int) {
	ta := addr.(*net.TCPAddr)
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	fds := make([]int, 0, n)
	b.Cleanup(func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	})
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatalf("socket: %v", err)
		}
		fds = append(fds, fd)
		if err := syscall.Connect(fd, sa); err != nil {
			b.Fatalf("connect %v: %v", addr, err)
		}
	}
}

// await polls cond until it holds (a benchmark has no testify Eventually
// that reports through b cleanly with a long bound).
func await(b *testing.B, what string, cond func() bool) {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("not reached within a minute: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// named registers every connection under a name of its own at Init.
type named struct{ behaviours.Base }

func (named) Init(c behaviours.Conn, _ any) behaviours.Result {
	if err := c.Register(fmt.Sprintf("conn-%d", c.ID())); err != nil {
		return behaviours.Stop(err)
	}
	return behaviours.Continue()
}

// BenchmarkMemoryPerConnection reports what one server-side connection
// costs, part by part (heap-B/conn, stack-B/conn, and their sum B/conn).
// The baselines come first: a plain net connection held without a
// goroutine (the socket's Go side), the same with a goroutine blocked in
// Read on a 4 KiB buffer (plain net's way of serving), a bare protoactor
// actor (what protoactor keeps for any spawned actor), and a PID in
// protoactor's process registry with no actor behind it. Then
// etcp's connections: reading (a reader goroutine waiting), parked (on the
// shared poller, no goroutine), hibernated (passivated: no actor, no
// goroutine), hibernated without a registry entry, and hibernated with a
// name in the local registry.
func BenchmarkMemoryPerConnection(b *testing.B) {
	n := conns(b)
	b.Run("net-socket", func(b *testing.B) { benchNet(b, n, false) })
	b.Run("net-goroutine", func(b *testing.B) { benchNet(b, n, true) })
	b.Run("protoactor-actor", func(b *testing.B) { benchActor(b, n) })
	b.Run("protoactor-pid", func(b *testing.B) { benchPID(b, n) })
	etcp := []struct {
		name    string
		factory behaviours.Factory
		wait    func(actors.Stats) bool
		opts    []server.Option
	}{
		{"etcp-reading", testkit.NewEcho, func(s actors.Stats) bool { return s.Reading == n },
			[]server.Option{actors.WithParkAfter(time.Hour)}},
		{"etcp-parked", testkit.NewEcho, func(s actors.Stats) bool { return s.Parked == n }, nil},
		{"etcp-hibernated", testkit.NewEcho, func(s actors.Stats) bool { return s.Passivated == n },
			[]server.Option{actors.WithIdleHibernate(time.Millisecond)}},
		{"etcp-hibernated-unregistered", testkit.NewEcho, func(s actors.Stats) bool { return s.Passivated == n },
			[]server.Option{actors.WithIdleHibernate(time.Millisecond), actors.WithRegistry(registry.None())}},
		{"etcp-hibernated-named", func() behaviours.Handler { return named{} }, func(s actors.Stats) bool { return s.Passivated == n },
			[]server.Option{actors.WithIdleHibernate(time.Millisecond)}},
	}
	for _, c := range etcp {
		b.Run(c.name, func(b *testing.B) { benchEtcp(b, n, c.factory, c.wait, c.opts) })
	}
}

// benchNet holds n plain net connections, each with a goroutine blocked
// in Read if serve.
func benchNet(b *testing.B, n int, serve bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	held := make([]net.Conn, 0, n)
	defer func() {
		ln.Close()
		for _, c := range held {
			c.Close()
		}
	}()
	before := measure()
	accepted := make(chan error, 1)
	go func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			held = append(held, c)
			if serve {
				go func() {
					buf := make([]byte, 4096)
					for {
						if _, err := c.Read(buf); err != nil {
							return
						}
					}
				}()
			}
		}
		accepted <- nil
	}()
	rawDial(b, ln.Addr(), n)
	if err := <-accepted; err != nil {
		b.Fatal(err)
	}
	report(b, before, measure(), n)
}

// inert is an actor that does nothing.
type inert struct{}

func (inert) Receive(actor.Context) {}

// benchActor spawns n bare actors under one parent, as a connection
// supervisor's children are.
func benchActor(b *testing.B, n int) {
	sys := testkit.NewSystem(b)
	ready := make(chan struct{})
	parent := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(string); ok {
			props := actor.PropsFromProducer(func() actor.Actor { return inert{} })
			for range n {
				ctx.Spawn(props)
			}
			close(ready)
		}
	}))
	before := measure()
	sys.Root.Send(parent, "spawn")
	<-ready
	report(b, before, measure(), n)
	if err := sys.Root.StopFuture(parent).Wait(); err != nil {
		b.Fatal(err)
	}
}

// silent is a process that takes and drops every message.
type silent struct{}

func (silent) SendUserMessage(*actor.PID, any)   {}
func (silent) SendSystemMessage(*actor.PID, any) {}
func (silent) Stop(*actor.PID)                   {}

// benchPID registers n processes in protoactor's process registry, each
// under an id like a connection's: what protoactor keeps for a PID that
// must stay resolvable when no actor runs behind it (as for a passivated
// connection).
func benchPID(b *testing.B, n int) {
	sys := testkit.NewSystem(b)
	pids := make([]*actor.PID, 0, n)
	before := measure()
	for i := range n {
		pid, ok := sys.ProcessRegistry.Add(silent{}, fmt.Sprintf("etcp/srv/conns-1/%d", i))
		if !ok {
			b.Fatalf("id %d taken", i)
		}
		pids = append(pids, pid)
	}
	after := measure()
	for _, pid := range pids {
		sys.ProcessRegistry.Remove(pid)
	}
	report(b, before, after, n)
}

// benchEtcp holds n connections of an etcp server until wait holds for
// its statistics.
func benchEtcp(b *testing.B, n int, f behaviours.Factory, wait func(actors.Stats) bool, opts []server.Option) {
	sys := testkit.NewSystem(b)
	opts = append([]server.Option{server.WithMaxConnections(n + 10)}, opts...)
	srv := testkit.StartServer(b, sys, "127.0.0.1:0", f, nil, opts...)
	before := measure()
	rawDial(b, srv.Addr(), n)
	await(b, "every connection in the state measured", func() bool { return wait(srv.Info().Conns) })
	report(b, before, measure(), n)
}
