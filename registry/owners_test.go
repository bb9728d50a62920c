package registry_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
)

func TestOwners(t *testing.T) {
	l := registry.NewLocal()
	assert.Empty(t, l.Owners())
	for i := range 200 {
		owner := "srv"
		if i%50 == 0 {
			owner = fmt.Sprintf("conn-%d", i)
		}
		pid := actor.NewPID("nonhost", fmt.Sprintf("p%d", i))
		require.NoError(t, l.Register(pid.Id, pid, registry.Meta{Owner: owner}))
	}
	pid := actor.NewPID("nonhost", "ownerless")
	require.NoError(t, l.Register("ownerless", pid, registry.Meta{}))
	got := l.Owners()
	slices.Sort(got)
	assert.Equal(t, []string{"conn-0", "conn-100", "conn-150", "conn-50", "srv"}, got)
	require.NoError(t, l.Unregister("p50", actor.NewPID("nonhost", "p50")))
	assert.Len(t, l.Owners(), 4, "an owner goes with its last entry")
}
