package clustertest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry/internal/nodetest"
)

// The tests of this file attack the cluster registry the way a process
// that reaches a node's remote port could: an attacker node (its own OS
// process and actor system, with a remote on 127.0.0.1 and no registry)
// writes the registry's messages by hand. Its messages carry the sender
// PID it chooses, of its own address ("self") or none, which is what the
// node's authenticating transport leaves an attacker: a sender naming
// another node is dropped before any actor sees it.

type attacker struct {
	*nodetest.Proc
	addr string
}

func startAttacker(t *testing.T) *attacker {
	t.Helper()
	p := nodetest.Start(t, "attacker")
	addr, ok := strings.CutPrefix(p.First, "ready ")
	require.True(t, ok, p.First)
	t.Cleanup(func() { p.Quit(10 * time.Second) })
	return &attacker{p, addr}
}

// do runs an attacker command, which must succeed.
func (m *attacker) do(t *testing.T, format string, args ...any) {
	t.Helper()
	require.Equal(t, "ok", m.Do(format, args...))
}

// refused returns n's refusal counters and its candidate gauge.
func refused(t *testing.T, n *node) (sender, protocol, candidates int) {
	t.Helper()
	f := strings.Fields(n.Do("refused"))
	require.Len(t, f, 3)
	v := make([]int, 3)
	for i := range f {
		var err error
		v[i], err = strconv.Atoi(f[i])
		require.NoError(t, err, f)
	}
	return v[0], v[1], v[2]
}

// members returns n's members, as ADDRESS:UP.
func members(t *testing.T, n *node) []string {
	t.Helper()
	r, ok := strings.CutPrefix(n.Do("members"), "members")
	require.True(t, ok, r)
	return strings.FieldsFunc(r, func(c rune) bool { return c == ',' || c == ' ' })
}

func hasMember(t *testing.T, n *node, addr string) bool {
	for _, m := range members(t, n) {
		if strings.HasPrefix(m, addr+":") {
			return true
		}
	}
	return false
}

// holder returns the node and PID id that hold name on n ("" if none).
func holder(t *testing.T, n *node, name string) (node, pid string) {
	t.Helper()
	r := n.Do("lookup %s", name)
	if r == "notfound" {
		return "", ""
	}
	return field(t, r, 1), field(t, r, 2)
}

// (a) The forged take-over: an attacker sends a Hello and a Snapshot that
// claim to come from device-42's owner (with the attacker's own address
// as sender, and with none), and from a made-up node, each holding
// device-42 with a registration time a year ahead. Every one is refused:
// the owner keeps the name on every node and hears of no conflict.
func TestAttackForgedTakeover(t *testing.T) {
	o := start(t, nil)
	b := start(t, []string{o.addr})
	connected(t, o, b)
	m := startAttacker(t)

	require.Equal(t, "ok", field(t, o.Do("reg device-42"), 0))
	require.Equal(t, "ok", field(t, b.Do("awaitnode device-42 %s 3000", o.addr), 0))
	_, pid := holder(t, o, "device-42")
	s0, _, _ := refused(t, o)
	b0, _, _ := refused(t, b)

	for _, from := range []string{"self", "none"} {
		for _, target := range []*node{o, b} {
			m.do(t, "hello %s %s %s 7 1", target.addr, from, o.addr)
			m.do(t, "snapshot %s %s %s 7 device-42 future", target.addr, from, o.addr)
		}
	}
	const fake = "127.0.0.1:9" // a node that does not exist, spoken for by the attacker
	m.do(t, "hello %s self %s 8 1", o.addr, fake)
	m.do(t, "snapshot %s self %s 8 device-42 future", o.addr, fake)

	taken := func(n *node) bool {
		h, p := holder(t, n, "device-42")
		return h != o.addr || p != pid || o.Do("lostmsgs") != "0"
	}
	require.Eventually(t, func() bool {
		so, _, _ := refused(t, o)
		sb, _, _ := refused(t, b)
		return (so == s0+6 && sb == b0+4) || taken(o) || taken(b)
	}, 10*time.Second, 5*time.Millisecond)
	for _, n := range []*node{o, b} {
		h, p := holder(t, n, "device-42")
		assert.Equal(t, o.addr, h, "device-42's holder on %s", n.addr)
		assert.Equal(t, pid, p, "device-42's PID on %s", n.addr)
		assert.False(t, hasMember(t, n, fake), "the made-up node is a member of %s", n.addr)
	}
	assert.Equal(t, "0", o.Do("lostmsgs"), "the owner's PID was told it lost its name")
	assert.NotContains(t, o.Do("events device-42"), "conflict")
	so, _, _ := refused(t, o)
	sb, _, _ := refused(t, b)
	assert.Equal(t, s0+6, so)
	assert.Equal(t, b0+4, sb)
	o.Quit(20 * time.Second)
	b.Quit(20 * time.Second)
}

// (b) Messages whose node field names a third node (with an epoch the
// attacker made up) are refused: that node is not taken for restarted,
// its names are not dropped, and no name is placed in its name. A name
// the receiver holds itself is not lost to one.
func TestAttackThirdNodeMessages(t *testing.T) {
	o := start(t, nil)
	b := start(t, []string{o.addr})
	connected(t, o, b)
	m := startAttacker(t)

	require.Equal(t, "ok", field(t, o.Do("regn o 5"), 0))
	require.Equal(t, "ok", field(t, b.Do("awaitnodelen %s 5 3000", o.addr), 0))
	require.Equal(t, "ok", field(t, b.Do("reg mine"), 0))
	require.Equal(t, "ok", field(t, o.Do("awaitnode mine %s 3000", b.addr), 0))
	s0, _, _ := refused(t, b)

	m.do(t, "syncreq %s self %s 99", b.addr, o.addr)
	m.do(t, "heartbeat %s self %s 99 0", b.addr, o.addr)
	m.do(t, "delta %s self %s 99 1 evil future mine future", b.addr, o.addr)
	m.do(t, "snapshot %s self %s 99 evil future mine future", b.addr, o.addr)
	m.do(t, "leave %s self %s 99", b.addr, o.addr)

	harmed := func() bool {
		h, _ := holder(t, b, "evil")
		hm, _ := holder(t, b, "mine")
		return h != "" || hm != b.addr || b.Do("lostmsgs") != "0"
	}
	require.Eventually(t, func() bool {
		s, _, _ := refused(t, b)
		return s == s0+5 || harmed()
	}, 10*time.Second, 5*time.Millisecond)
	h, _ := holder(t, b, "evil")
	assert.Empty(t, h, "a name placed in another node's name")
	h, _ = holder(t, b, "mine")
	assert.Equal(t, b.addr, h, "the receiver's own name")
	assert.Equal(t, "0", b.Do("lostmsgs"))
	assert.Equal(t, "ok", field(t, b.Do("awaitnodelen %s 5 0", o.addr), 0), "the third node's names")
	s, _, _ := refused(t, b)
	assert.Equal(t, s0+5, s)
	o.Quit(20 * time.Second)
	b.Quit(20 * time.Second)
}

// (c) A registration time far ahead, from an attacker that speaks for
// itself (as an authenticated node may), counts as the time it arrived:
// a registration made later on another node wins the conflict, and
// sending the same registration again does not win it back.
func TestAttackFarFutureTime(t *testing.T) {
	c := start(t, nil)
	o := start(t, []string{c.addr})
	connected(t, c, o)
	m := startAttacker(t)

	m.do(t, "hello %s self self 5 1", c.addr)
	m.do(t, "keepalive %s 5", c.addr)
	m.do(t, "snapshot %s self self 5 x future", c.addr) // to c only: o never hears of it
	require.Equal(t, "ok", field(t, c.Do("awaitnode x %s 3000", m.addr), 0))
	reg, err := strconv.ParseInt(field(t, c.Do("lookup x"), 3), 10, 64)
	require.NoError(t, err)
	assert.LessOrEqual(t, reg, time.Now().UnixNano(), "a registration time in the future")

	require.Equal(t, "ok", field(t, o.Do("reg x"), 0)) // after c heard of the attacker's
	assert.Equal(t, "ok", field(t, c.Do("awaitnode x %s 3000", o.addr), 0), "the later registration wins")

	// Replayed: the same registration, with the same far-ahead time, and
	// a marker name to know it was applied.
	m.do(t, "snapshot %s self self 5 x future marker now", c.addr)
	require.Equal(t, "ok", field(t, c.Do("awaitnode marker %s 3000", m.addr), 0))
	h, _ := holder(t, c, "x")
	assert.Equal(t, o.addr, h, "the replayed registration won")
	assert.Equal(t, "0", o.Do("lostmsgs"))
	c.Quit(20 * time.Second)
	o.Quit(20 * time.Second)
}

// (d) A Hello of another protocol version is refused, its sender is not
// brought up (not by its later messages of that incarnation either) and
// is sent nothing; a Hello of this protocol brings it up.
func TestAttackOldProtocol(t *testing.T) {
	c := start(t, nil)
	m := startAttacker(t)
	sent0, _, _ := stats(t, c)

	m.do(t, "hello %s self self 5 0", c.addr)
	m.do(t, "heartbeat %s self self 5 0", c.addr)
	m.do(t, "syncreq %s self self 5", c.addr)
	m.do(t, "hello %s none self 5 1", c.addr) // a marker: refused for its sender
	require.Eventually(t, func() bool {
		s, _, _ := refused(t, c)
		return s == 1 || hasMember(t, c, m.addr)
	}, 10*time.Second, 5*time.Millisecond)
	assert.False(t, hasMember(t, c, m.addr), "an old-protocol node brought up")
	_, p, _ := refused(t, c)
	assert.Equal(t, 1, p)
	sent, _, _ := stats(t, c)
	assert.Equal(t, sent0, sent, "messages sent to an old-protocol node")

	m.do(t, "hello %s self self 6 1", c.addr)
	assert.Eventually(t, func() bool { return hasMember(t, c, m.addr) }, 10*time.Second, 5*time.Millisecond)
	c.Quit(20 * time.Second)
}

// (e) A Hello listing 200 made-up members: none becomes a member, and
// after the heartbeat timeout no candidate is left.
func TestAttackGhostMembers(t *testing.T) {
	c := start(t, nil)
	m := startAttacker(t)

	m.do(t, "hello %s self self 5 1 fake:200", c.addr)
	m.do(t, "keepalive %s 5", c.addr)
	require.Eventually(t, func() bool { return hasMember(t, c, m.addr) }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{m.addr + ":true"}, members(t, c), "members listed second hand")
	_, _, cands := refused(t, c)
	t.Logf("candidates once the Hello was applied: %d", cands)
	assert.LessOrEqual(t, cands, 200)

	assert.Eventually(t, func() bool { _, _, n := refused(t, c); return n == 0 },
		10*time.Second, 10*time.Millisecond, "candidates left after the heartbeat timeout")
	assert.Equal(t, []string{m.addr + ":true"}, members(t, c))
	c.Quit(20 * time.Second)
}
