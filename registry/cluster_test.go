package registry_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
)

// One node alone, in this process: the API, its errors, and a Close and
// Shutdown that leave no goroutine (goleak, in TestMain). Several nodes
// are tested in package internal/clustertest, one process each.
func TestClusterSingleNode(t *testing.T) {
	sys := newSystem()
	n, err := registry.StartNode(sys)
	require.NoError(t, err)
	defer n.Shutdown()

	_, err = registry.NewCluster(n, nil, registry.WithHeartbeat(time.Second, time.Second))
	assert.ErrorIs(t, err, registry.ErrInvalid)
	_, err = registry.NewCluster(nil, nil)
	assert.ErrorIs(t, err, registry.ErrInvalid)

	c, err := registry.NewCluster(n, []string{n.Address()}, registry.WithHeartbeat(20*time.Millisecond, 100*time.Millisecond))
	require.NoError(t, err)
	_, err = registry.NewCluster(n, nil) // the scope is taken on this node
	assert.ErrorIs(t, err, registry.ErrInvalid)
	assert.Equal(t, n.Address(), c.Address())

	events := make(chan registry.Event, 4)
	cancel, err := c.Subscribe(func(ev registry.Event) { events <- ev })
	require.NoError(t, err)
	defer cancel()

	p := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	defer sys.Root.Stop(p)
	require.NoError(t, c.Register("dev-1", p, registry.Meta{Owner: "srv", Tags: []registry.Tag{{"k", "v"}}}))
	e, err := c.Lookup("dev-1")
	require.NoError(t, err)
	assert.Equal(t, n.Address(), e.Node)
	assert.False(t, e.Registered.IsZero())
	es, _ := c.Select(registry.Query{Node: n.Address()})
	assert.Len(t, es, 1)
	es, _ = c.Select(registry.ByTag("k", "v"))
	assert.Len(t, es, 1)

	assert.ErrorIs(t, c.Register("dev-1", actor.NewPID(n.Address(), "other"), registry.Meta{}), registry.ErrNameTaken)
	assert.ErrorIs(t, c.Register("x", actor.NewPID("10.9.9.9:1", "y"), registry.Meta{}), registry.ErrInvalid)
	assert.ErrorIs(t, c.Unregister("dev-1", actor.NewPID(n.Address(), "other")), registry.ErrNotOwner)
	require.NoError(t, c.Unregister("dev-1", p))
	_, err = c.Lookup("dev-1")
	assert.ErrorIs(t, err, registry.ErrNotFound)
	for _, want := range []registry.EventKind{registry.Registered, registry.Unregistered} {
		select {
		case ev := <-events:
			assert.Equal(t, want, ev.Kind)
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}

	ms, err := c.Members()
	require.NoError(t, err)
	assert.Empty(t, ms)               // its own address is not a peer
	time.Sleep(50 * time.Millisecond) // a few heartbeat ticks with nobody to send to
	assert.Zero(t, c.Stats().Sent())

	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	assert.ErrorIs(t, c.Register("z", p, registry.Meta{}), registry.ErrClosed)
	_, err = c.Members()
	assert.ErrorIs(t, err, registry.ErrClosed)
	n.Shutdown()
}
