package manage_test

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
	"github.com/etcp-go/etcp/test/testkit/testcerts"
)

// Under mutual TLS a node with a certificate of the same CA supervises;
// a node whose certificate another CA signed, a node that does not trust
// the managed node's certificate, and a node without TLS are refused
// before they can send anything.
func TestMutualTLS(t *testing.T) {
	ca, err := testcerts.NewCA("etcp test CA")
	require.NoError(t, err)
	managed, err := ca.Issue("managed")
	require.NoError(t, err)
	dir := t.TempDir()
	_, _, _, err = managed.Files(dir, ca)
	require.NoError(t, err)
	operator, err := ca.Issue("operator")
	require.NoError(t, err)
	other, err := testcerts.NewCA("another CA")
	require.NoError(t, err)
	stranger, err := other.Issue("stranger")
	require.NoError(t, err)

	t.Run("trusted", func(t *testing.T) {
		if operate(t) {
			return
		}
		e := newEnv(t, registry.WithMutualTLS(operator.Server(ca), operator.Client(ca)))
		ch := startChild(t, envTLS+"="+dir, envActions+"=1")
		c := e.dial(ch)
		assert.True(t, c.Hello().MutualTLS)
		ctx := ctxT(t)
		servers, err := c.Servers(ctx)
		require.NoError(t, err)
		require.Len(t, servers, 2)
		p := dialPeer(t, ch.Srv)
		r, err := c.Call(ctx, refOf(t, c, "srv", p).Ref(), "over TLS")
		require.NoError(t, err)
		assert.Equal(t, "string:over TLS", r.Value)
	})

	for _, tt := range []struct {
		name   string
		opts   []registry.NodeOption
		bypass bool
	}{
		{"certificate of another CA", []registry.NodeOption{registry.WithMutualTLS(stranger.Server(other), stranger.Client(ca))}, true},
		{"does not trust the node", []registry.NodeOption{registry.WithMutualTLS(stranger.Server(other), stranger.Client(other))}, false},
		{"no TLS", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if operate(t) {
				return
			}
			e := newEnv(t, tt.opts...)
			ch := startChild(t, envTLS+"="+dir, envActions+"=1")
			_, err := manage.Dial(ctxT(t), e.node, ch.Node)
			assert.ErrorIs(t, err, manage.ErrRefused)
			t.Log(err)
			if !tt.bypass {
				return
			}
			// Without Dial's probe, an action sent straight to the
			// endpoint's PID never arrives: the node refuses the
			// connection it would travel on.
			ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
			defer cancel()
			_, err = actors.Request(ctx, e.node.System().Root, actor.NewPID(ch.Node, manage.Name),
				&managepb.StopServer{Server: "srv", Reason: "intruder"})
			assert.Error(t, err)
			assert.Equal(t, "accepting", ch.do("mode srv"))
		})
	}
}
