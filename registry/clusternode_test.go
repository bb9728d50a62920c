package registry_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
)

// RemoteConfig checks the options as StartNode does, and the node it
// prepares is attached, guarded, once the remote it configured runs
// (started here as a protoactor cluster's StartMember starts it).
func TestRemoteConfig(t *testing.T) {
	if alone(t) {
		return
	}
	_, err := registry.RemoteConfig(nil)
	assert.ErrorIs(t, err, registry.ErrInvalid)
	sys := newSystem()
	_, err = registry.RemoteConfig(sys, registry.WithCookie(cookie(t)), registry.WithListen("192.0.2.1:0"))
	assert.ErrorIs(t, err, registry.ErrInsecure)
	assert.False(t, registry.Guarded(sys))

	cfg, err := registry.RemoteConfig(sys, registry.WithCookie(cookie(t)))
	require.NoError(t, err)
	assert.True(t, registry.Guarded(sys), "the guard is in the config: it proves peers from the start")
	_, err = registry.AttachNode(sys)
	assert.ErrorIs(t, err, registry.ErrInvalid, "no remote yet")

	r := remote.NewRemote(sys, cfg)
	r.Start()
	defer r.Shutdown(true)
	n, err := registry.AttachNode(sys)
	require.NoError(t, err)
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, n.Address())
	assert.Equal(t, sys.Address(), n.Address())
	assert.Equal(t, n.Address(), n.Listen(), "the port picked")
	assert.Same(t, r, n.Remote())
	again, err := registry.AttachNode(sys)
	require.NoError(t, err)
	assert.Same(t, n, again)

	n.Shutdown()
	assert.False(t, registry.Guarded(sys))
}
