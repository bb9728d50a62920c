package registry_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
)

// The tags a registry hands out are copies, and so is the slice it was
// given: changing either changes nothing stored, so ByTag still finds
// the entry.
func TestTagsAreCopies(t *testing.T) {
	if alone(t) { // its cluster's node must be the only remote of its process
		return
	}
	for _, tc := range []struct {
		name string
		reg  func(t *testing.T) (registry.Registry, *actor.PID)
	}{
		{"local", func(*testing.T) (registry.Registry, *actor.PID) { return registry.NewLocal(), pid("p1") }},
		{"cluster", func(t *testing.T) (registry.Registry, *actor.PID) {
			sys := newSystem()
			n, err := registry.StartNode(sys)
			require.NoError(t, err)
			t.Cleanup(n.Shutdown)
			c, err := registry.NewCluster(n, nil, registry.WithHeartbeat(20*time.Millisecond, 100*time.Millisecond))
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			return c, actor.NewPID(n.Address(), "p1")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, p := tc.reg(t)
			given := []registry.Tag{{"role", "sensor"}}
			require.NoError(t, reg.Register("dev-1", p, registry.Meta{Tags: given}))
			given[0].Value = "changed by the caller"

			e, err := reg.Lookup("dev-1")
			require.NoError(t, err)
			require.Equal(t, []registry.Tag{{"role", "sensor"}}, e.Tags, "the registry kept its own copy")
			e.Tags[0].Value = "changed by a reader"
			es, err := reg.Select(registry.ByTag("role", "sensor"))
			require.NoError(t, err)
			require.Len(t, es, 1, "a Lookup's result is a copy")
			es[0].Tags[0].Value = "changed by another reader"

			e, err = reg.Lookup("dev-1")
			require.NoError(t, err)
			assert.Equal(t, []registry.Tag{{"role", "sensor"}}, e.Tags, "a Select's result is a copy")
		})
	}
}
