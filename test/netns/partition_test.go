package netns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/test/testkit/testcerts"
	"github.com/etcp-go/etcp/transport"
)

// The partition scenario's parameters. The heartbeat is short so that
// the test stays affordable; every bound below is derived from it.
const (
	partInterval = 400 * time.Millisecond // registry.WithHeartbeat's interval
	partTimeout  = 3 * time.Second        // and its timeout
	// partRetry is how often a node greets a peer that is down: every
	// five heartbeat intervals (registry.NewCluster).
	partRetry = 5 * partInterval
	// shortCut is shorter than the timeout by more than one interval
	// (the documented bound for losing nothing).
	shortCut = partTimeout / 2
	// longCut is long enough for TCP's retransmission backoff to reach
	// 25 s, which used to hold the sync back for as long.
	longCut = 30 * time.Second
)

// The member child's environment (besides envIP and the TLS files).
const (
	envInterval = "NETNS_HEARTBEAT"
	envTimeout  = "NETNS_HEARTBEAT_TIMEOUT"
)

func init() { children["member"] = memberChild }

// loser is a registered PID: it counts the NameLost messages it gets.
type loser struct {
	name   string
	counts *lostCounts
}

type lostCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *loser) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*registry.NameLost); ok && m.Name == l.name {
		l.counts.mu.Lock()
		l.counts.n[l.name]++
		l.counts.mu.Unlock()
	}
}

// memberChild is a cluster member with mutual TLS on its namespace's
// address. "join PEER..." starts its cluster registry (told of losers);
// "reg NAME..." registers one actor per name, which counts the NameLost
// messages it gets; "owners NAME..." answers each name's node ("-" if
// unknown); "lost" the NameLost counts; "events" the Unregistered events
// seen, by reason; "up" the members up; "stats" the registry's counters.
func memberChild() *child {
	ip := os.Getenv(envIP)
	interval, _ := time.ParseDuration(os.Getenv(envInterval))
	timeout, _ := time.ParseDuration(os.Getenv(envTimeout))
	sys := actors.NewSystem(nil, actor.WithDeadLetterThrottleInterval(time.Millisecond))
	var (
		node   *registry.Node
		reg    *registry.Cluster
		cancel func()
		pids   []*actor.PID
	)
	var srv *server.Server
	calls := newCallLoops(sys)
	counts := &lostCounts{n: make(map[string]int)}
	var evMu sync.Mutex
	events := make(map[registry.Reason]int)
	c := &child{commands: map[string]func([]string) string{}}
	c.init = func() string {
		srvCfg, cliCfg, err := loadTLS(os.Getenv(envCA), os.Getenv(envCert), os.Getenv(envKey))
		if err != nil {
			return "error " + err.Error()
		}
		node, err = registry.StartNode(sys, registry.WithListen(net.JoinHostPort(ip, "0")),
			registry.WithMutualTLS(srvCfg, cliCfg))
		if err != nil {
			return "error " + err.Error()
		}
		return "ready " + node.Address()
	}
	c.commands["join"] = func(a []string) string {
		var err error
		opts := []registry.ClusterOption{registry.WithHeartbeat(interval, timeout), registry.WithNotifyLoser()}
		if os.Getenv("NETNS_DEBUG") != "" {
			opts = append(opts, registry.WithClusterLogger(slog.New(slog.NewTextHandler(os.Stderr,
				&slog.HandlerOptions{Level: slog.LevelDebug})).With("member", ip)))
		}
		reg, err = registry.NewCluster(node, a, opts...)
		if err != nil {
			return "error " + err.Error()
		}
		cancel, err = reg.Subscribe(func(ev registry.Event) {
			if ev.Kind == registry.Unregistered {
				evMu.Lock()
				events[ev.Reason]++
				evMu.Unlock()
			}
		})
		if err != nil {
			return "error " + err.Error()
		}
		// A server whose connections register their names in the
		// cluster (the device handler's "login NAME").
		registry.SetDefault(sys, reg)
		srv, err = server.Start(sys, func() behaviours.Handler { return &device{label: ip} }, nil,
			net.JoinHostPort(ip, "0"), server.WithName("srv"), actors.WithSocket(transport.WithFramer(transport.Line())))
		if err != nil {
			return "error " + err.Error()
		}
		return "ok " + srv.Addr().String()
	}
	// calls NAME...: call each name, from now on, one call after the
	// other per name; phase P: count the calls that follow under P;
	// callstats: the counts, "phase:name:ok:failed" each.
	c.commands["calls"] = func(a []string) string {
		for _, name := range a {
			calls.start(name)
		}
		return "ok"
	}
	c.commands["phase"] = func(a []string) string {
		calls.setPhase(a[0])
		return "ok"
	}
	c.commands["callstats"] = func([]string) string { return "ok " + calls.stats() }
	c.commands["reg"] = func(a []string) string {
		for _, name := range a {
			l := &loser{name: name, counts: counts}
			pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return l }))
			pids = append(pids, pid)
			if err := reg.Register(name, pid, registry.Meta{}); err != nil {
				return "error " + err.Error()
			}
		}
		return "ok"
	}
	c.commands["owners"] = func(a []string) string {
		out := make([]string, len(a))
		for i, name := range a {
			out[i] = "-"
			if e, err := reg.Lookup(name); err == nil {
				out[i] = e.Node
			}
		}
		return "ok " + strings.Join(out, " ")
	}
	c.commands["lost"] = func([]string) string {
		counts.mu.Lock()
		defer counts.mu.Unlock()
		var out []string
		for name, n := range counts.n {
			out = append(out, fmt.Sprintf("%s=%d", name, n))
		}
		return "ok " + strings.Join(slices.Sorted(slices.Values(out)), " ")
	}
	c.commands["events"] = func([]string) string {
		evMu.Lock()
		defer evMu.Unlock()
		return fmt.Sprintf("ok %d %d", events[registry.ReasonNodeDown], events[registry.ReasonConflict])
	}
	c.commands["up"] = func([]string) string {
		ms, err := reg.Members()
		if err != nil {
			return "error " + err.Error()
		}
		var up []string
		for _, m := range ms {
			if m.Up {
				up = append(up, m.Address)
			}
		}
		return "ok " + strings.Join(up, ",")
	}
	c.commands["stats"] = func([]string) string {
		s := reg.Stats()
		return fmt.Sprintf("ok lost=%d redials=%d conflicts=%d endpoints-lost=%d", s.NodesLost, s.Redials, s.Conflicts,
			node.Stats().EndpointsLost)
	}
	c.close = func() {
		calls.stop()
		if srv != nil {
			ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
			_ = srv.Stop(ctx, nil)
			stop()
		}
		if cancel != nil {
			cancel()
		}
		if reg != nil {
			_ = reg.Close()
		}
		for _, pid := range pids {
			_ = sys.Root.StopFuture(pid).Wait()
		}
		if node != nil {
			node.Shutdown()
		}
		sys.Shutdown()
	}
	return c
}

// callLoops call names by their cluster registration, one goroutine per
// name, and count the outcomes by phase.
type callLoops struct {
	sys   *actor.ActorSystem
	wg    sync.WaitGroup
	done  chan struct{}
	mu    sync.Mutex
	phase string
	count map[string][2]int // "phase:name" -> ok, failed
}

// callTimeout bounds one call: a call to a connection across the cut
// waits for it.
const callTimeout = time.Second

func newCallLoops(sys *actor.ActorSystem) *callLoops {
	return &callLoops{sys: sys, done: make(chan struct{}), phase: "start", count: make(map[string][2]int)}
}

func (l *callLoops) start(name string) {
	l.wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			l.mu.Lock()
			phase := l.phase
			l.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			_, err := client.Call(ctx, l.sys.Root, client.Name(name), "ping")
			cancel()
			l.mu.Lock()
			n := l.count[phase+":"+name]
			if err == nil {
				n[0]++
			} else {
				n[1]++
			}
			l.count[phase+":"+name] = n
			l.mu.Unlock()
			select {
			case <-l.done:
				return
			case <-tick.C:
			}
		}
	})
}

func (l *callLoops) setPhase(p string) {
	l.mu.Lock()
	l.phase = p
	l.mu.Unlock()
}

func (l *callLoops) stats() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k, n := range l.count {
		out = append(out, fmt.Sprintf("%s:%d:%d", k, n[0], n[1]))
	}
	return strings.Join(slices.Sorted(slices.Values(out)), " ")
}

func (l *callLoops) stop() {
	close(l.done)
	l.wg.Wait()
}

// callCounts parses a member's callstats reply: phase -> name -> ok, failed.
func callCounts(t *testing.T, reply string) map[string]map[string][2]int {
	t.Helper()
	f := strings.Fields(reply)
	require.True(t, len(f) > 0 && f[0] == "ok", reply)
	out := make(map[string]map[string][2]int)
	for _, e := range f[1:] {
		p := strings.Split(e, ":")
		require.Len(t, p, 4, e)
		ok, err := strconv.Atoi(p[2])
		require.NoError(t, err)
		failed, err := strconv.Atoi(p[3])
		require.NoError(t, err)
		if out[p[0]] == nil {
			out[p[0]] = make(map[string][2]int)
		}
		out[p[0]][p[1]] = [2]int{ok, failed}
	}
	return out
}

// bridged makes a namespace holding a bridge and n namespaces, each
// joined to the bridge by a veth pair (eth0 inside, pK on the bridge)
// with 198.18.9.K/24, and removes them all when the test ends. Cutting
// node K off is `ip -n BR link set pK down`: its packets, and those to
// it, are dropped without a word, as in a partition.
func bridged(t *testing.T, n int) (br string, nss []string, ips []net.IP) {
	t.Helper()
	seq := nsSeq.Add(1)
	br = fmt.Sprintf("etcp-%d-%d-br", os.Getpid(), seq)
	require.NoError(t, ip("netns", "add", br))
	t.Cleanup(func() { deleteNetns(t, br) })
	require.NoError(t, ip("-n", br, "link", "add", "br0", "type", "bridge"))
	require.NoError(t, ip("-n", br, "link", "set", "br0", "up"))
	for k := 1; k <= n; k++ {
		ns := fmt.Sprintf("etcp-%d-%d-n%d", os.Getpid(), seq, k)
		require.NoError(t, ip("netns", "add", ns))
		t.Cleanup(func() { deleteNetns(t, ns) })
		port := fmt.Sprintf("p%d", k)
		addr := net.IPv4(198, 18, 9, byte(k))
		require.NoError(t, ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", br))
		require.NoError(t, ip("-n", br, "link", "set", port, "master", "br0"))
		require.NoError(t, ip("-n", br, "link", "set", port, "up"))
		require.NoError(t, ip("-n", ns, "addr", "add", addr.String()+"/24", "dev", "eth0"))
		require.NoError(t, ip("-n", ns, "link", "set", "eth0", "up"))
		require.NoError(t, ip("-n", ns, "link", "set", "lo", "up"))
		nss, ips = append(nss, ns), append(ips, addr)
	}
	return br, nss, ips
}

// names returns prefix-0 ... prefix-(n-1).
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "-" + strconv.Itoa(i)
	}
	return out
}

// TestPartitionHeals: three members in three namespaces on a bridge; one
// is cut off twice, while each carries a live connection registered
// under a cluster name and every member calls the three by name. A cut
// shorter than the heartbeat timeout minus one interval (1.5 s) loses
// nothing. During a 30 s cut the same names are registered on both
// sides; after the heal every member converges on one owner per name by
// the conflict rule (the newer registration) within two greeting
// retries (ten heartbeat intervals) of the heal, each loser is told
// once, and no name that was not in conflict is lost. Calls between
// members on the same side never fail; those across the cut are
// counted and logged.
func TestPartitionHeals(t *testing.T) {
	requireNetns(t)
	if testkit.EventLoop() {
		t.Skip("the event-loop pass: this test carries no connections, and it runs in the first pass")
	}
	start := time.Now()
	step := func(what string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), what) }
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }

	br, nss, ips := bridged(t, 3)
	ca, err := testcerts.NewCA("partition-test-ca")
	require.NoError(t, err)
	members := make([]*proc, 3)
	addrs := make([]string, 3)
	for k := range members {
		leaf, err := ca.IssueFor(fmt.Sprintf("member-%d", k+1), ips[k])
		require.NoError(t, err)
		cert, key := f(fmt.Sprintf("m%d.pem", k+1)), f(fmt.Sprintf("m%d-key.pem", k+1))
		writeFiles(t, map[string][]byte{f("ca.pem"): ca.PEM, cert: leaf.CertPEM, key: leaf.KeyPEM})
		members[k] = startChild(t, nss[k], "member", envIP+"="+ips[k].String(), envCA+"="+f("ca.pem"),
			envCert+"="+cert, envKey+"="+key, envInterval+"="+partInterval.String(), envTimeout+"="+partTimeout.String(),
			registry.CookieEnv+"=netns-test-cookie-0123456789")
		addrs[k] = fields(t, members[k].first, "ready", 1)[0]
	}
	a, b, c := members[0], members[1], members[2]
	addrA, addrB, addrC := addrs[0], addrs[1], addrs[2]
	cut := func(down bool) {
		t.Helper()
		state := "up"
		if down {
			state = "down"
		}
		require.NoError(t, ip("-n", br, "link", "set", "p3", state))
	}
	t.Cleanup(func() { _ = ip("-n", br, "link", "set", "p3", "up") })
	// Every member names the other two: each greets the others while
	// they are down.
	srvs := []string{
		fields(t, a.do("join %s %s", addrB, addrC), "ok", 1)[0],
		fields(t, b.do("join %s %s", addrA, addrC), "ok", 1)[0],
		fields(t, c.do("join %s %s", addrA, addrB), "ok", 1)[0],
	}
	allUp := "ok " + addrB + "," + addrC + " | ok " + addrA + "," + addrC + " | ok " + addrA + "," + addrB
	up := func() string { return a.do("up") + " | " + b.do("up") + " | " + c.do("up") }
	eventually(t, "every member sees the other two up", up, allUp)
	step("cluster of three up: " + strings.Join(addrs, " "))

	// owners asks every member for the owners of names, and returns
	// their answers joined by " | ".
	owners := func(ns []string) string {
		q := strings.Join(ns, " ")
		return a.do("owners "+q) + " | " + b.do("owners "+q) + " | " + c.do("owners "+q)
	}
	// want is what every member must answer for names owned by owner.
	want := func(owner ...string) string {
		one := "ok " + strings.Join(owner, " ")
		return one + " | " + one + " | " + one
	}
	repeat := func(s string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = s
		}
		return out
	}

	// 1. Names of every member, known everywhere.
	const n = 10
	for k, p := range members {
		require.Equal(t, "ok", p.do("reg %s", strings.Join(names(fmt.Sprintf("base%d", k+1), n), " ")))
	}
	base := append(append(names("base1", n), names("base2", n)...), names("base3", n)...)
	baseOwners := append(append(repeat(addrA, n), repeat(addrB, n)...), repeat(addrC, n)...)
	eventually(t, "every member knows every member's names", func() string { return owners(base) }, want(baseOwners...))
	step("30 names known everywhere")

	// Live connections: a device in each member's namespace connects to
	// its server and logs in as dev-1, dev-2, dev-3 (cluster names); every
	// member calls the three by name, one call after the other, from now
	// to the end.
	devs := names("dev", 3)
	for k := range members {
		d := startChild(t, nss[k], "device")
		require.Equal(t, "welcome", fields(t, d.do("dial %s", srvs[k]), "ok", 2)[1])
		require.Equal(t, "ok ok "+devs[k], d.do("say login %s", devs[k]))
		t.Cleanup(func() { d.quit() })
	}
	eventually(t, "every member knows the devices' names", func() string { return owners(devs) }, want(addrA, addrB, addrC))
	phase := func(p string) {
		for _, m := range members {
			require.Equal(t, "ok", m.do("phase %s", p))
		}
	}
	phase("before")
	for _, m := range members {
		require.Equal(t, "ok", m.do("calls %s", strings.Join(devs, " ")))
	}
	base = append(base, devs...)
	baseOwners = append(baseOwners, addrA, addrB, addrC)

	// 2. A cut shorter than the heartbeat timeout loses nothing: no
	// member goes down, no name is dropped, and names registered on
	// both sides during the cut are known everywhere after it.
	events := func() string { return a.do("events") + " | " + b.do("events") + " | " + c.do("events") }
	require.Equal(t, "ok 0 0 | ok 0 0 | ok 0 0", events())
	phase("short")
	cut(true)
	require.Equal(t, "ok", a.do("reg short-a"))
	require.Equal(t, "ok", c.do("reg short-c"))
	time.Sleep(shortCut) // the scenario: how long the cut lasts
	cut(false)
	step(fmt.Sprintf("healed a cut of %v (heartbeat %v, timeout %v)", shortCut, partInterval, partTimeout))
	all := append(append([]string{}, base...), "short-a", "short-c")
	allOwners := append(append([]string{}, baseOwners...), addrA, addrC)
	eventually(t, "after the short cut, every name known everywhere", func() string { return owners(all) }, want(allOwners...))
	step("short cut: every name known everywhere")
	assert.Equal(t, allUp, up(), "after the short cut")
	assert.Equal(t, "ok 0 0 | ok 0 0 | ok 0 0", events(), "no name was dropped (node down, conflict) on any member")
	for _, p := range members {
		s := p.do("stats")
		t.Logf("%s after the short cut: %s", p.name, s)
		assert.Contains(t, s, "ok lost=0 ", "%s took no member for lost", p.name)
		// The cut outlasted two heartbeat intervals: every member
		// redialled (a peer across the cut), and heard it again.
		assert.NotContains(t, s, " redials=0 ", "%s redialled no silent peer", p.name)
	}

	// 3. The long cut. Once each side has taken the other for lost, the
	// same names are registered on both sides: x-* first on A then on C
	// (C's is newer and wins), y-* first on C then on A (A's wins); and
	// names of each side's own.
	phase("between")
	cutAt := time.Now()
	phase("cut")
	cut(true)
	eventually(t, "each side takes the other for lost", func() string {
		return a.do("up") + " | " + b.do("up") + " | " + c.do("up")
	}, "ok "+addrB+" | ok "+addrA+" | ok ")
	step(fmt.Sprintf("cut: C lost on both sides after %v", time.Since(cutAt).Round(time.Millisecond)))
	xs, ys := names("x", n), names("y", n)
	require.Equal(t, "ok", a.do("reg %s", strings.Join(xs, " ")))
	require.Equal(t, "ok", c.do("reg %s", strings.Join(ys, " ")))
	require.Equal(t, "ok", c.do("reg %s", strings.Join(xs, " ")))
	require.Equal(t, "ok", a.do("reg %s", strings.Join(ys, " ")))
	require.Equal(t, "ok", a.do("reg %s", strings.Join(names("cut-a", n), " ")))
	require.Equal(t, "ok", c.do("reg %s", strings.Join(names("cut-c", n), " ")))
	time.Sleep(time.Until(cutAt.Add(longCut))) // the scenario: how long the cut lasts
	cut(false)
	healed := time.Now()
	phase("healing")
	step(fmt.Sprintf("healed a cut of %v", longCut))

	// Every member converges: the base names, each side's own, x-* on
	// C, y-* on A, within two greeting retries of the heal.
	all = append(append(append(append(all, xs...), ys...), names("cut-a", n)...), names("cut-c", n)...)
	allOwners = append(append(append(append(allOwners, repeat(addrC, n)...), repeat(addrA, n)...), repeat(addrA, n)...), repeat(addrC, n)...)
	bound := 2 * partRetry
	deadline := healed.Add(bound)
	for got := owners(all); got != want(allOwners...); got = owners(all) {
		if time.Now().After(deadline) {
			t.Fatalf("not converged %v after the heal (bound: two retries, %v):\ngot  %s\nwant %s", time.Since(healed), bound, got, want(allOwners...))
		}
		time.Sleep(5 * time.Millisecond) // polling children over pipes: no event to await
	}
	converged := time.Since(healed)
	phase("after")
	step(fmt.Sprintf("converged %v after the heal (bound %v)", converged.Round(time.Millisecond), bound))
	eventually(t, "every member sees the other two up again", up, allUp)

	// Each loser was told once: A's x-* and C's y-*; no one else. Told
	// again later would show within a few heartbeats more.
	var lostA, lostC []string
	for i := range n {
		lostA = append(lostA, fmt.Sprintf("x-%d=1", i))
		lostC = append(lostC, fmt.Sprintf("y-%d=1", i))
	}
	wantLost := "ok " + strings.Join(slices.Sorted(slices.Values(lostA)), " ") + " | ok  | ok " + strings.Join(slices.Sorted(slices.Values(lostC)), " ")
	lost := func() string { return a.do("lost") + " | " + b.do("lost") + " | " + c.do("lost") }
	eventually(t, "each loser told", lost, wantLost)
	time.Sleep(4 * partInterval) // a window for a second NameLost to show
	assert.Equal(t, wantLost, lost(), "each loser told once")
	assert.Equal(t, want(allOwners...), owners(all), "the owners hold")
	for _, p := range members {
		t.Logf("%s: %s; events (node-down conflict) %s", p.name, p.do("stats"), p.do("events"))
	}

	// The calls by name: none failed before the cuts, none after the
	// convergence, and during either cut none between members on the
	// same side; those across it are counted and reported.
	for k, m := range members {
		cs := callCounts(t, m.do("callstats"))
		t.Logf("%s calls by name, ok/failed: %v", m.name, cs)
		for _, d := range devs {
			for _, p := range []string{"before", "between", "after"} {
				assert.Zero(t, cs[p][d][1], "%s: calls to %s failed in phase %s", m.name, d, p)
			}
			assert.Positive(t, cs["after"][d][0], "%s: calls to %s after the convergence", m.name, d)
			if sameSide := (k == 2) == (d == devs[2]); sameSide {
				for _, p := range []string{"short", "cut"} {
					assert.Zero(t, cs[p][d][1], "%s: calls to %s, on its side of the cut, failed in phase %s", m.name, d, p)
				}
			}
		}
	}
	t.Logf("partition: heal to convergence %v (bound %v = two retries of %v)", converged, bound, partRetry)

	for _, p := range members {
		p.quit()
	}
	step("members quit")
}
