package security

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/test/testkit/testcerts"
)

const wait = 10 * time.Second

// victimWithConns starts a victim and opens n connections to its server,
// which this test keeps open and checks at the end.
func victimWithConns(t *testing.T, n int, env ...string) (*child, []net.Conn) {
	t.Helper()
	v := start(t, "victim", env...)
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", v.first[1])
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	require.Eventually(t, func() bool { return strings.Contains(v.do("stats"), "conns="+strconv.Itoa(n)) }, wait, 5*time.Millisecond)
	return v, conns
}

// stat reads one counter of the victim's stats line.
func stat(t *testing.T, v *child, name string) string {
	for _, f := range strings.Fields(v.do("stats")) {
		if k, val, _ := strings.Cut(f, "="); k == name {
			return val
		}
	}
	t.Fatalf("no %s in the victim's stats", name)
	return ""
}

// connIDs lists the victim's connections through its endpoint.
func connIDs(t *testing.T, a *child, v *child, n int) []string {
	t.Helper()
	reply := a.do("list %s", v.first[0])
	require.True(t, strings.HasPrefix(reply, "ok "), reply)
	ids := strings.Fields(reply)[1:]
	require.Len(t, ids, n)
	return ids
}

// The reproduction of the read-only bypass: a read-only endpoint hands
// out connection PIDs, and another node called and stopped connections
// through them. Every path is refused now, and the connections live.
func TestReadOnlyHoldsThroughEveryPath(t *testing.T) {
	v, conns := victimWithConns(t, 3)
	a := start(t, "attacker")
	ids := connIDs(t, a, v, 3)

	reply := a.do("call %s %s", v.first[0], ids[0])
	assert.True(t, strings.HasPrefix(reply, "forbidden "), "raw call on a read-only node: %s", reply)
	assert.NotContains(t, reply, "secret state")
	for _, id := range ids[:2] {
		reply = a.do("stop %s %s", v.first[0], id)
		assert.True(t, strings.HasPrefix(reply, "forbidden "), "raw stop on a read-only node: %s", reply)
		assert.Equal(t, "sent", a.do("kill %s %s", v.first[0], id))
	}
	// A message each for HandleInfo: refused too (sending needs RoleSend).
	a.do("info %s %s", v.first[0], ids[2])
	// The kills and the info are one-way: wait until the victim counted
	// every refusal (a call, two stops, two Stops, two PoisonPills, one
	// info), then check nothing got through.
	require.Eventually(t, func() bool { return stat(t, v, "refused") == "8" }, wait, 5*time.Millisecond)
	assert.Equal(t, "3", stat(t, v, "conns"), "connections before 3")
	assert.Equal(t, "0", stat(t, v, "infos"))
	for _, c := range conns {
		_, err := c.Write([]byte("x"))
		assert.NoError(t, err)
	}
	assert.Len(t, connIDs(t, a, v, 3), 3)
}

// With actions on and no roles, every proven node may do everything:
// the same calls go through, so the refusals above are the roles' doing.
func TestActionsWithoutRolesAllow(t *testing.T) {
	v, _ := victimWithConns(t, 2, actionsEnv+"=1")
	a := start(t, "attacker")
	ids := connIDs(t, a, v, 2)
	assert.Equal(t, "ok secret state", a.do("call %s %s", v.first[0], ids[0]))
	assert.Equal(t, "ok <nil>", a.do("stop %s %s", v.first[0], ids[0]))
	require.Eventually(t, func() bool { return stat(t, v, "conns") == "1" }, wait, 5*time.Millisecond)
	a.do("info %s %s", v.first[0], ids[1])
	require.Eventually(t, func() bool { return stat(t, v, "infos") == "1" }, wait, 5*time.Millisecond)
	assert.Equal(t, "0", stat(t, v, "refused"))
}

// A message whose sender PID names another node than the one that sent
// it is dropped before any actor sees it.
func TestSenderNamingAnotherNodeIsDropped(t *testing.T) {
	v, _ := victimWithConns(t, 1, actionsEnv+"=1")
	a := start(t, "attacker")
	ids := connIDs(t, a, v, 1)
	a.do("info %s %s %s", v.first[0], ids[0], "127.0.0.1:1")
	require.Eventually(t, func() bool { return stat(t, v, "refused") == "1" }, wait, 5*time.Millisecond)
	assert.Equal(t, "0", stat(t, v, "infos"))
	a.do("info %s %s", v.first[0], ids[0]) // the same message, honestly sent
	require.Eventually(t, func() bool { return stat(t, v, "infos") == "1" }, wait, 5*time.Millisecond)
}

// A node that does not know the cookie is not heard at all: the
// endpoint refuses it, and its calls reach nothing.
func TestWrongCookieIsNotHeard(t *testing.T) {
	v, _ := victimWithConns(t, 1, actionsEnv+"=1")
	a := start(t, "attacker", cookieEnv+"=not-the-cookie-of-this-user")
	reply := a.do("list %s", v.first[0])
	assert.True(t, strings.HasPrefix(reply, "error "), reply)
	assert.Contains(t, reply, "cookie")
	require.Eventually(t, func() bool { return stat(t, v, "unauthenticated") != "0" }, wait, 5*time.Millisecond)
	assert.Equal(t, "1", stat(t, v, "conns"))
}

// pki writes a CA and leaves for tests with mutual TLS.
type pki struct {
	t  testing.TB
	ca *testcerts.CA
}

func newPKI(t testing.TB, name string) *pki {
	ca, err := testcerts.NewCA(name)
	require.NoError(t, err)
	return &pki{t: t, ca: ca}
}

// dir issues a leaf for name (with uris as URI SANs) and returns the
// directory a child reads it from.
func (p *pki) dir(name string, uris ...string) string {
	var leaf *testcerts.Leaf
	var err error
	if len(uris) > 0 {
		u := registry.NodeURI(uris[0])
		leaf, err = p.ca.IssueURIs(name, u)
	} else {
		leaf, err = p.ca.Issue(name)
	}
	require.NoError(p.t, err)
	d := p.t.TempDir()
	_, _, _, err = leaf.Files(d, p.ca)
	require.NoError(p.t, err)
	return d
}

// With mutual TLS and roles: a certificate from another CA, no
// certificate, a certificate that names another node, and a valid
// certificate without the role are each refused; the certificate with
// the role gets through.
func TestMutualTLSIdentityAndRoles(t *testing.T) {
	p := newPKI(t, "etcp security CA")
	v, _ := victimWithConns(t, 2, tlsDirEnv+"="+p.dir("victim"), actionsEnv+"=1",
		rolesEnv+"=default=read,ops=all")

	// A valid certificate without the role: reads, but may not call or stop.
	viewer := start(t, "attacker", tlsDirEnv+"="+p.dir("viewer"))
	ids := connIDs(t, viewer, v, 2)
	reply := viewer.do("call %s %s", v.first[0], ids[0])
	assert.True(t, strings.HasPrefix(reply, "forbidden "), reply)
	assert.Contains(t, reply, "needs send")
	reply = viewer.do("stop %s %s", v.first[0], ids[0])
	assert.True(t, strings.HasPrefix(reply, "forbidden "), reply)

	// The certificate with the role.
	ops := start(t, "attacker", tlsDirEnv+"="+p.dir("ops"))
	assert.Equal(t, "ok secret state", ops.do("call %s %s", v.first[0], ids[0]))

	// Another CA's certificate: the handshake fails.
	other := newPKI(t, "another CA")
	stranger := start(t, "attacker", tlsDirEnv+"="+other.dir("ops"))
	reply = stranger.do("list %s", v.first[0])
	assert.True(t, strings.HasPrefix(reply, "error "), reply)
	assert.Contains(t, reply, "refused")

	// A certificate of this CA bound to another node (etcp URI SAN): the
	// guard refuses the claim, whatever roles its name would have.
	impostor := start(t, "attacker", tlsDirEnv+"="+p.dir("ops", "127.0.0.1:1"))
	reply = impostor.do("call %s %s", v.first[0], ids[1])
	assert.True(t, strings.HasPrefix(reply, "error "), reply)
	require.Eventually(t, func() bool { return stat(t, v, "unauthenticated") != "0" }, wait, 5*time.Millisecond)

	// No certificate at all: a raw gRPC client is cut off in the handshake.
	caPool := p.ca.Pool
	conn, err := grpc.Dial(v.first[0], grpc.WithTransportCredentials(credentials.NewTLS(
		&tls.Config{RootCAs: caPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err == nil {
		_, err = stream.Recv()
	}
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	assert.Equal(t, "2", stat(t, v, "conns"))
}
