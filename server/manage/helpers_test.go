package manage_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/test/testkit"
)

const wait = 10 * time.Second

// envOperator marks a process that runs one test as the operator.
const envOperator = "ETCP_MANAGE_OPERATOR"

// operate runs the calling test (or subtest) in a process of its own,
// the operator (testkit.OwnProcess), whose node is then the only protoactor
// remote of its process. The nodes under supervision are children of the
// operator; this process starts no node but the Example's.
func operate(t *testing.T) bool {
	t.Helper()
	return testkit.OwnProcess(t, envOperator)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// env is the test's own node, the only protoactor remote of this
// process; the children it talked to are waited for before it shuts
// down (see registry.Node.Shutdown).
type env struct {
	t      testing.TB
	node   *registry.Node
	talked uint64
}

func newEnv(t testing.TB, opts ...registry.NodeOption) *env {
	t.Helper()
	sys := actors.NewSystem(nil, actor.WithDeadLetterThrottleInterval(time.Millisecond))
	node, err := registry.StartNode(sys, append([]registry.NodeOption{registry.WithConnectRetries(1)}, opts...)...)
	require.NoError(t, err)
	e := &env{t: t, node: node}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	// The children have quit (their cleanups ran first): let this node
	// see their connections go before it shuts down.
	deadline := time.Now().Add(5 * time.Second)
	for e.node.Stats().EndpointsLost < e.talked && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	e.node.Shutdown()
	e.node.System().Shutdown()
}

// dial dials the child's endpoint.
func (e *env) dial(c *child) *manage.Client {
	e.t.Helper()
	mc, err := manage.Dial(ctxT(e.t), e.node, c.Node)
	require.NoError(e.t, err)
	e.talked++
	return mc
}

// peer is a raw TCP client of a child's server, speaking lines.
type peer struct {
	net.Conn
	r *bufio.Reader
}

func dialPeer(t testing.TB, addr string) *peer {
	t.Helper()
	p := dialRaw(t, addr)
	require.Equal(t, "hello", p.line(t))
	return p
}

// dialRaw connects to addr without waiting for the greeting.
func dialRaw(t testing.TB, addr string) *peer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &peer{Conn: c, r: bufio.NewReader(c)}
}

func (p *peer) line(t testing.TB) string {
	t.Helper()
	require.NoError(t, p.SetReadDeadline(time.Now().Add(wait)))
	l, err := p.r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimRight(l, "\r\n")
}

// say sends a line and reads the echo.
func (p *peer) say(t testing.TB, s string) {
	t.Helper()
	_, err := p.Write([]byte(s + "\n"))
	require.NoError(t, err)
	require.Equal(t, "echo: "+s, p.line(t))
}

// closed waits for the server to close the connection.
func (p *peer) closed(t testing.TB) {
	t.Helper()
	require.NoError(t, p.SetReadDeadline(time.Now().Add(wait)))
	_, err := p.r.ReadString('\n')
	require.Error(t, err, "the server closed the connection")
	require.False(t, isTimeout(err), "%v", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ref finds a connection of owner whose peer is p.
func refOf(t testing.TB, c *manage.Client, owner string, p *peer) manage.Conn {
	t.Helper()
	l, err := c.Conns(ctxT(t), manage.Query{Owner: owner, PeerPrefix: p.LocalAddr().String()})
	require.NoError(t, err)
	require.Len(t, l.Conns, 1, "%+v", l)
	return l.Conns[0]
}
