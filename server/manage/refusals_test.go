package manage_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/test/testkit/testcerts"
)

// A read-only endpoint answers every read verb and refuses every action
// verb with ErrReadOnly, touching nothing.
func TestReadOnly(t *testing.T) {
	if operate(t) {
		return
	}
	e := newEnv(t)
	ch := startChild(t)
	c := e.dial(ch)
	ctx := ctxT(t)
	assert.False(t, c.Hello().Actions)
	p := dialPeer(t, ch.Srv)
	p.say(t, "x")

	servers, err := c.Servers(ctx)
	require.NoError(t, err)
	require.Len(t, servers, 2)
	_, err = c.Acceptors(ctx, "srv")
	require.NoError(t, err)
	_, err = c.Pools(ctx)
	require.NoError(t, err)
	_, err = c.Clients(ctx)
	require.NoError(t, err)
	conn := refOf(t, c, "srv", p)
	d, err := c.Inspect(ctx, conn.Ref())
	require.NoError(t, err)
	assert.Equal(t, "{Lines:1 Calls:0}", d.State)

	ref := conn.Ref()
	for name, verb := range map[string]func() error{
		"call":      func() error { _, err := c.Call(ctx, ref, "x"); return err },
		"cast":      func() error { return c.Cast(ctx, ref, "x") },
		"stop":      func() error { return c.Stop(ctx, ref, "no") },
		"hibernate": func() error { return c.Hibernate(ctx, ref) },
		"wake":      func() error { return c.Wake(ctx, ref) },
		"trace on":  func() error { return c.SetTracing(ctx, ref, true) },
		"trace":     func() error { _, err := c.Trace(ctx, ref, 0); return err },
		"sleep":     func() error { return c.SleepServer(ctx, "srv") },
		"wake srv":  func() error { return c.WakeServer(ctx, "srv") },
		"limit":     func() error { return c.SetMaxConnections(ctx, "srv", 1) },
		"drain":     func() error { _, err := c.Drain(ctx, "srv", time.Second, nil); return err },
		"stop srv":  func() error { return c.StopServer(ctx, "srv", "no") },
	} {
		err := verb()
		assert.ErrorIs(t, err, manage.ErrReadOnly, name)
		var re *manage.RemoteError
		if assert.True(t, errors.As(err, &re), name) {
			assert.Equal(t, ch.Node, re.Node)
		}
	}
	// Nothing was done.
	p.say(t, "still here")
	servers, err = c.Servers(ctx)
	require.NoError(t, err)
	assert.Equal(t, "accepting", servers[0].Mode)
	assert.Equal(t, 1024, servers[0].MaxConnections)
	assert.Empty(t, ch.do("casts"))
	assert.Empty(t, ch.do("terminated"))
}

// A node without an endpoint, or without a node at all, is a clear error
// at once, not a hang.
func TestEndpointOff(t *testing.T) {
	if operate(t) {
		return
	}
	e := newEnv(t)
	ch := startChild(t, envEndpoint+"=0")
	start := time.Now()
	_, err := manage.Dial(ctxT(t), e.node, ch.Node)
	e.talked++
	assert.ErrorIs(t, err, manage.ErrNoEndpoint)
	assert.Less(t, time.Since(start), 2*time.Second)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = manage.Dial(ctxT(t), e.node, closed)
	assert.ErrorIs(t, err, manage.ErrUnreachable)
}

// Enable refuses a node listening beyond loopback unless it has mutual
// TLS.
func TestEnableOffLoopback(t *testing.T) {
	ca, err := testcerts.NewCA("etcp test CA")
	require.NoError(t, err)
	leaf, err := ca.Issue("node")
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		opts []registry.NodeOption
		want error
	}{
		{"all interfaces", []registry.NodeOption{registry.WithListen("0.0.0.0:0")}, manage.ErrInsecure},
		{"advertised beyond loopback", []registry.NodeOption{registry.WithAdvertisedAddress("198.18.0.1:7000")}, registry.ErrInsecure},
		{"all interfaces with mutual TLS", []registry.NodeOption{registry.WithListen("0.0.0.0:0"),
			registry.WithAdvertisedAddress("127.0.0.1:1"), registry.WithMutualTLS(leaf.Server(ca), leaf.Client(ca))}, nil},
		{"loopback", nil, nil},
		{"localhost", []registry.NodeOption{registry.WithListen("localhost:0")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if operate(t) {
				return
			}
			sys := actors.NewSystem(nil, actor.WithDeadLetterThrottleInterval(time.Millisecond))
			defer sys.Shutdown()
			node, err := registry.StartNode(sys, tt.opts...)
			if tt.want != nil { // the node refuses first
				assert.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			defer node.Shutdown()
			ep, err := manage.Enable(node)
			require.NoError(t, err)
			_, err = manage.Enable(node)
			assert.ErrorIs(t, err, manage.ErrEnabled)
			if node.MutualTLS() {
				require.NoError(t, ep.Close()) // its advertised address is made up: no Dial
				return
			}
			// Servers and pools added after Enable are managed too.
			srv, err := server.Start(sys, func() behaviours.Handler { return &served{} }, nil, "127.0.0.1:0",
				server.WithName("late"))
			require.NoError(t, err)
			defer srv.Stop(context.Background(), nil)
			ep.AddServer(srv)
			c, err := manage.Dial(ctxT(t), node, node.Address())
			require.NoError(t, err)
			assert.Equal(t, []string{"late"}, c.Hello().Servers)
			require.NoError(t, ep.Close())
			require.NoError(t, ep.Close())
		})
	}
}
