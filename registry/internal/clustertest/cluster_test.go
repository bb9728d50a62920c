package clustertest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry/internal/nodetest"
)

// Test timing: heartbeats every 100 ms, a peer silent for 1 s is lost.
const (
	hb        = 100 * time.Millisecond
	hbTimeout = time.Second
	lossBound = hbTimeout + hb // the documented bound for these settings
)

type node struct {
	*nodetest.Proc
	addr string
}

func start(t *testing.T, peers []string, env ...string) *node {
	t.Helper()
	env = append(env, envPeers+"="+strings.Join(peers, ","), envHB+"="+hb.String(), envTimeout+"="+hbTimeout.String())
	p := nodetest.Start(t, "node", env...)
	addr, ok := strings.CutPrefix(p.First, "ready ")
	require.True(t, ok, p.First)
	return &node{p, addr}
}

// field returns the i-th word of a reply.
func field(t *testing.T, reply string, i int) string {
	t.Helper()
	f := strings.Fields(reply)
	require.Greater(t, len(f), i, reply)
	return f[i]
}

func durationOf(t *testing.T, reply string) time.Duration {
	t.Helper()
	n, err := strconv.ParseInt(field(t, reply, 1), 10, 64)
	require.NoError(t, err, reply)
	return time.Duration(n)
}

// connected waits until every node sees every other one up.
func connected(t *testing.T, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		require.Eventually(t, func() bool {
			m := n.Do("members")
			for _, o := range nodes {
				if o != n && !strings.Contains(m, o.addr+":true") {
					return false
				}
			}
			return true
		}, 10*time.Second, 5*time.Millisecond, "%s does not see every peer", n.addr)
	}
}

func stats(t *testing.T, n *node) (sentNoHeartbeats, conflicts, lost int) {
	f := strings.Fields(n.Do("stats"))
	require.Len(t, f, 4)
	a, _ := strconv.Atoi(f[0])
	c, _ := strconv.Atoi(f[2])
	l, _ := strconv.Atoi(f[3])
	return a, c, l
}

// Three node processes: replication, lookups that send nothing,
// conflicts, kill -9 and rejoin.
func TestCluster(t *testing.T) {
	a := start(t, nil)
	b := start(t, []string{a.addr})
	c := start(t, []string{a.addr}) // learns of b through a
	connected(t, a, b, c)

	t.Run("visible on another node within 50 ms", func(t *testing.T) {
		var lat []time.Duration
		for i := range 20 {
			name := fmt.Sprint("lat", i)
			got := make(chan string, 1)
			go func() { got <- b.Do("await %s 2000", name) }()
			require.Equal(t, "ok", field(t, a.Do("reg %s", name), 0))
			reply := <-got
			require.Equal(t, "found", field(t, reply, 0), reply)
			assert.Equal(t, a.addr, field(t, reply, 1))
			d, _ := strconv.ParseInt(field(t, reply, 2), 10, 64)
			lat = append(lat, time.Duration(d))
		}
		slices.Sort(lat)
		t.Logf("A→B visibility over 20 names: min %v, median %v, max %v", lat[0], lat[len(lat)/2], lat[len(lat)-1])
		assert.Less(t, lat[len(lat)/2], 50*time.Millisecond)
		assert.Equal(t, "ok", field(t, c.Do("awaitnode lat19 %s 2000", a.addr), 0))
	})

	t.Run("lookups send nothing", func(t *testing.T) {
		before, _, _ := stats(t, b)
		hit := b.Do("lookups lat1 100000")
		miss := b.Do("lookups nosuchname 100000")
		after, _, _ := stats(t, b)
		assert.Equal(t, before, after, "messages other than heartbeats sent during 200,000 lookups")
		t.Logf("lookups on B (test binary, race detector if on): hit %s ns, miss %s ns", field(t, hit, 1), field(t, miss, 1))
	})

	t.Run("unregister", func(t *testing.T) {
		require.Equal(t, "ok", a.Do("unreg lat0"))
		assert.Equal(t, "gone", field(t, b.Do("awaitgone lat0 2000"), 0))
		assert.Equal(t, "gone", field(t, c.Do("awaitgone lat0 2000"), 0))
		assert.Contains(t, b.Do("unreg lat1"), "held by another PID") // only its node may
	})

	t.Run("conflict: newer wins everywhere, loser told", func(t *testing.T) {
		// Neither node hears of the other's registration before making its own.
		require.Equal(t, "ok", a.Do("hold"))
		require.Equal(t, "ok", b.Do("hold"))
		ra, rb := a.Do("reg dup"), b.Do("reg dup")
		require.Equal(t, "ok", a.Do("release"))
		require.Equal(t, "ok", b.Do("release"))
		ta, err := strconv.ParseInt(field(t, ra, 1), 10, 64)
		require.NoError(t, err, ra)
		tb, err := strconv.ParseInt(field(t, rb, 1), 10, 64)
		require.NoError(t, err, rb)
		winner, loser := a, b
		if tb > ta || (tb == ta && b.addr > a.addr) {
			winner, loser = b, a
		}
		t.Logf("registered %v apart; winner %s", time.Duration(tb-ta), winner.addr)
		require.NotEqual(t, ta, tb)
		for _, n := range []*node{a, b, c} {
			assert.Equal(t, "ok", field(t, n.Do("awaitnode dup %s 3000", winner.addr), 0), n.addr)
		}
		assert.Equal(t, field(t, a.Do("lookup dup"), 2), field(t, c.Do("lookup dup"), 2))
		// Events reach subscribers from a goroutine of their own: await it.
		assert.Eventually(t, func() bool {
			return strings.Contains(loser.Do("events dup"), "unregistered:"+loser.addr+":conflict")
		}, 3*time.Second, 5*time.Millisecond, "the loser's subscribers hear of the conflict")
		require.Eventually(t, func() bool { return loser.Do("lostmsgs") == "1" }, 3*time.Second, 5*time.Millisecond)
		assert.Equal(t, "0", winner.Do("lostmsgs"))
		_, ca, _ := stats(t, a)
		_, cb, _ := stats(t, b)
		assert.Positive(t, ca+cb)
	})

	t.Run("frozen node: names gone after the heartbeat timeout, back when it wakes", func(t *testing.T) {
		require.Equal(t, "ok", field(t, c.Do("regn c 100"), 0))
		for _, n := range []*node{a, b} {
			require.Equal(t, "ok", field(t, n.Do("awaitnodelen %s 100 3000", c.addr), 0))
		}
		// SIGSTOP: the process says nothing more, its connections stay open.
		require.NoError(t, c.Signal(syscall.SIGSTOP))
		stopped := time.Now()
		var wg sync.WaitGroup
		for _, n := range []*node{a, b} {
			wg.Go(func() {
				r := n.Do("awaitnodelen %s 0 5000", c.addr)
				d := time.Since(stopped)
				assert.Equal(t, "ok", field(t, r, 0), r)
				t.Logf("%s dropped the frozen node's names %v after SIGSTOP (bound %v)", n.addr, d, lossBound)
				// The bound counts from the node's last heartbeat, before
				// the stop; the margin is for timers on a loaded machine.
				assert.Less(t, d, lossBound+300*time.Millisecond)
				assert.Greater(t, d, hbTimeout-hb)
			})
		}
		wg.Wait()
		require.NoError(t, c.Signal(syscall.SIGCONT))
		for _, n := range []*node{a, b} { // heard from again: synced again
			assert.Equal(t, "ok", field(t, n.Do("awaitnodelen %s 100 5000", c.addr), 0))
		}
		connected(t, a, b, c)
	})

	t.Run("kill -9: names gone at once; rejoin", func(t *testing.T) {
		for _, n := range []*node{a, b} {
			require.Equal(t, "ok", field(t, n.Do("awaitnodelen %s 100 3000", c.addr), 0))
		}
		killed := time.Now()
		c.Kill()
		var wg sync.WaitGroup
		for _, n := range []*node{a, b} {
			wg.Go(func() {
				r := n.Do("awaitnodelen %s 0 5000", c.addr)
				d := time.Since(killed)
				assert.Equal(t, "ok", field(t, r, 0), r)
				t.Logf("%s dropped the killed node's 100 names %v after kill -9 (bound %v)", n.addr, d, lossBound)
				assert.Less(t, d, lossBound)
			})
		}
		wg.Wait()
		_, _, lost := stats(t, a)
		assert.Positive(t, lost)

		c2 := start(t, []string{b.addr})
		connected(t, a, b, c2)
		require.Equal(t, "ok", field(t, c2.Do("regn c 100"), 0))
		for _, n := range []*node{a, b} {
			assert.Equal(t, "ok", field(t, n.Do("awaitnodelen %s 100 3000", c2.addr), 0))
		}
		// The newcomer got the others' names by snapshot.
		assert.Equal(t, "ok", field(t, c2.Do("awaitnode dup %s 3000", a.Do("lookup dup")[6:6+len(a.addr)]), 0))
		c2.Quit(20 * time.Second)
		for _, n := range []*node{a, b} { // a clean leave drops its names too
			assert.Equal(t, "ok", field(t, n.Do("awaitnodelen %s 0 3000", c2.addr), 0))
		}
	})
	a.Quit(20 * time.Second)
	b.Quit(20 * time.Second)
}

// A node started without peers joins when told of one later (as from a
// protoactor cluster's topology events), and RemovePeer drops a peer's
// names.
func TestClusterAddRemovePeer(t *testing.T) {
	a := start(t, nil)
	b := start(t, nil)
	require.Equal(t, "ok", field(t, a.Do("regn a 10"), 0))
	require.Equal(t, "ok", b.Do("addpeer %s", a.addr))
	connected(t, a, b)
	assert.Equal(t, "ok", field(t, b.Do("awaitnodelen %s 10 3000", a.addr), 0))
	require.Equal(t, "ok", b.Do("removepeer %s", a.addr))
	assert.Equal(t, "ok", field(t, b.Do("awaitnodelen %s 0 3000", a.addr), 0))
	a.Quit(20 * time.Second)
	b.Quit(20 * time.Second)
}

// Two nodes whose custom rule keeps the older registration.
func TestClusterCustomResolver(t *testing.T) {
	a := start(t, nil, envResolver+"=older")
	b := start(t, []string{a.addr}, envResolver+"=older")
	connected(t, a, b)
	require.Equal(t, "ok", a.Do("hold"))
	require.Equal(t, "ok", b.Do("hold"))
	ra, rb := a.Do("reg x"), b.Do("reg x")
	require.Equal(t, "ok", a.Do("release"))
	require.Equal(t, "ok", b.Do("release"))
	ta, err := strconv.ParseInt(field(t, ra, 1), 10, 64)
	require.NoError(t, err, ra)
	tb, err := strconv.ParseInt(field(t, rb, 1), 10, 64)
	require.NoError(t, err, rb)
	winner := a // the older one
	if tb < ta {
		winner = b
	}
	for _, n := range []*node{a, b} {
		assert.Equal(t, "ok", field(t, n.Do("awaitnode x %s 3000", winner.addr), 0))
	}
	a.Quit(20 * time.Second)
	b.Quit(20 * time.Second)
}

// 100,000 names registered across three nodes at once, all resolvable on
// every node. Under the race detector (CI) it registers 30,000, to keep
// the run short: each race-instrumented node is 10-20 times slower.
func TestCluster100k(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	total, counts := 100_000, []int{33_334, 33_333, 33_333}
	if raceOn {
		total, counts = 30_000, []int{10_000, 10_000, 10_000}
	}
	a := start(t, nil)
	b := start(t, []string{a.addr})
	c := start(t, []string{a.addr, b.addr})
	connected(t, a, b, c)
	nodes := []*node{a, b, c}
	var base [3]int64
	for i, n := range nodes {
		base[i], _ = strconv.ParseInt(n.Do("mem"), 10, 64)
	}
	begin := time.Now()
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			r := n.Do("regn n%d- %d", i, counts[i])
			assert.Equal(t, "ok", field(t, r, 0), r)
			t.Logf("%s registered %d names in %v", n.addr, counts[i], durationOf(t, r))
		})
	}
	wg.Wait()
	for _, n := range nodes {
		r := n.Do("awaitlen %d 60000", total)
		require.Equal(t, "ok", field(t, r, 0), r)
	}
	took := time.Since(begin)
	for i, n := range nodes {
		for j := range nodes {
			// await, not lookup: under the race detector on a loaded machine a
			// node may miss heartbeats, drop a peer's names and sync them again.
			assert.Equal(t, "found", field(t, n.Do("await n%d-%d 30000", j, counts[j]-1), 0))
		}
		heap, _ := strconv.ParseInt(n.Do("mem"), 10, 64)
		t.Logf("%s: %.0f bytes per name held (heap after GC, %d names)", n.addr, float64(heap-base[i])/float64(total), total)
	}
	t.Logf("%d names across 3 nodes, all resolvable on every node, in %v", total, took)
	for _, n := range nodes {
		n.Quit(20 * time.Second)
	}
}
