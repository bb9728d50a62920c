package membership_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/registry/internal/nodetest"
	"github.com/etcp-go/etcp/registry/membership"
)

type member struct {
	*nodetest.Proc
	addr string
	name string // the name it registers
}

// newCookie is a cookie for the nodes of one test.
func newCookie(t *testing.T) string {
	b := make([]byte, 24)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func startMembers(t *testing.T, e *etcdServer, cookie string, n int) []*member {
	t.Helper()
	prefix := fmt.Sprintf("/etcp-test-%d-%s", os.Getpid(), t.Name())
	var ms []*member
	for i := range n {
		p := nodetest.Start(t, "member", envEtcd+"="+e.Endpoint, envPrefix+"="+prefix, envCookie+"="+cookie)
		addr, ok := strings.CutPrefix(p.First, "ready ")
		require.True(t, ok, p.First)
		m := &member{Proc: p, addr: addr, name: fmt.Sprintf("name-%c", 'a'+i)}
		require.Equal(t, "ok", m.Do("reg %s", m.name))
		ms = append(ms, m)
	}
	return ms
}

// resolves waits until on sees name held by owner.
func resolves(t *testing.T, on *member, name, owner string) {
	t.Helper()
	require.Eventually(t, func() bool { return on.Do("lookup %s", name) == "found "+owner },
		20*time.Second, 10*time.Millisecond, "%s does not resolve %s to %s", on.addr, name, owner)
}

// gone waits until on no longer knows name; it returns how long that took.
func gone(t *testing.T, on *member, name string, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool { return on.Do("lookup %s", name) == "notfound" },
		bound, 10*time.Millisecond, "%s still resolves %s", on.addr, name)
	return time.Since(start)
}

// sawLeave waits until the cluster told on that addr left.
func sawLeave(t *testing.T, on *member, addr string, bound time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return on.Do("left %s", addr) == "true" },
		bound, 10*time.Millisecond, "%s was not told that %s left", on.addr, addr)
}

// notMember checks that on's registry no longer lists addr as a peer.
func notMember(t *testing.T, on *member, addr string) {
	t.Helper()
	require.Eventually(t, func() bool { return !strings.Contains(on.Do("members"), addr+":") },
		10*time.Second, 10*time.Millisecond, "%s still lists %s", on.addr, addr)
}

// Four protoactor cluster members over a real etcd, each with a registry
// that has no static peer and follows the cluster's membership: they
// find each other and resolve each other's names; one leaves cleanly,
// one is frozen (its connections stay open: only etcd's lease expiry
// can tell the others) and one is killed, and every time its names go
// from the others and it is no longer their peer.
func TestFollowEtcd(t *testing.T) {
	e := startEtcd(t)
	t.Logf("%s at %s", etcdVersion(), e.Endpoint)
	ms := startMembers(t, e, newCookie(t), 4)
	a, b, c, d := ms[0], ms[1], ms[2], ms[3]

	// Joined: every node resolves every name, held by its node.
	for _, on := range ms {
		for _, of := range ms {
			resolves(t, on, of.name, of.addr)
		}
	}

	// The cluster's own traffic (gossip, cluster events) passes the guard.
	for _, m := range ms {
		require.Equal(t, "0", m.Do("refused"), "%s refused messages of its peers", m.addr)
	}

	// The members' remote is the registry node's, guarded: a node
	// without their cookie that names a as its peer is refused, and its
	// name reaches no one.
	out := nodetest.Start(t, "outsider", envCookie+"="+newCookie(t), envPeer+"="+a.addr)
	require.True(t, strings.HasPrefix(out.First, "ready "), out.First)
	require.Eventually(t, func() bool { return a.Do("unauthenticated") != "0" },
		20*time.Second, 10*time.Millisecond, "a did not refuse the outsider")
	require.Equal(t, "notfound", a.Do("lookup intruder"))
	out.Kill()

	// b leaves the cluster cleanly (the provider deletes its key).
	require.Equal(t, "leaving", b.Do("leave"))
	took := gone(t, a, b.name, 20*time.Second)
	t.Logf("a member's names went from another node %v after it began to leave", took.Round(time.Millisecond))
	for _, on := range []*member{a, c, d} {
		gone(t, on, b.name, 20*time.Second)
		sawLeave(t, on, b.addr, 20*time.Second)
		notMember(t, on, b.addr)
	}
	b.Quit(30 * time.Second)

	// d is killed: its connections break at once, and etcd's lease
	// expiry then takes it out of the cluster.
	d.Kill()
	took = gone(t, a, d.name, 30*time.Second)
	t.Logf("a killed member's names went from another node %v after kill -9", took.Round(time.Millisecond))
	start := time.Now()
	sawLeave(t, a, d.addr, 30*time.Second)
	t.Logf("the cluster reported the killed member left %v after its names went", time.Since(start).Round(time.Millisecond))
	gone(t, c, d.name, 10*time.Second)
	notMember(t, a, d.addr)
	notMember(t, c, d.addr)

	// c freezes: its connections stay open, and the registry's heartbeat
	// timeout (a minute) is beyond the bound, so its names can go only
	// when etcd's lease expires (the provider's TTL: 3 s) and the
	// cluster reports it left.
	require.NoError(t, c.Signal(syscall.SIGSTOP))
	took = gone(t, a, c.name, 30*time.Second)
	t.Logf("a frozen member's names went from another node %v after SIGSTOP", took.Round(time.Millisecond))
	sawLeave(t, a, c.addr, 10*time.Second)
	notMember(t, a, c.addr)

	// c thaws: its registry talks to a again (a receives its messages),
	// but a member the cluster reported gone stays removed (protoactor
	// blocks it too): its names, old and new, do not come back. Without
	// the removal, its next message would bring it up again.
	before := received(t, a)
	require.NoError(t, c.Signal(syscall.SIGCONT))
	require.Equal(t, "ok", c.Do("reg late"))
	require.Eventually(t, func() bool { return received(t, a) >= before+20 },
		20*time.Second, 10*time.Millisecond, "a hears nothing from the thawed c")
	require.Equal(t, "notfound", a.Do("lookup %s", c.name))
	require.Equal(t, "notfound", a.Do("lookup late"))
	notMember(t, a, c.addr)
	c.Kill()

	// a still holds its own name.
	require.Equal(t, "found "+a.addr, a.Do("lookup %s", a.name))
}

// received is how many registry messages on has received from peers.
func received(t *testing.T, on *member) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(on.Do("received"), 10, 64)
	require.NoError(t, err)
	return n
}

func TestFollowRefusesNil(t *testing.T) {
	_, err := membership.Follow(nil, nil)
	require.ErrorIs(t, err, registry.ErrInvalid)
}
