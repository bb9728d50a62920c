package test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// EachConnStats walks what ConnStats lists, the registry's fields only
// when asked for (the start and the mailbox are read in every walk:
// ranking by age reads no registry entry), and stops when told to.
func TestEachConnStats(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), actors.WithSocket(transport.WithFramer(transport.Length(2))))
	for i := range 3 {
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		for range i + 1 {
			testkit.Write(t, c, "\x00\x02hi")
			require.Equal(t, "\x00\x02hi", string(testkit.ReadN(t, c, 4)))
		}
	}
	// The echo's bytes are counted once the write returns, which may be
	// after the peer read them: wait until every count is settled.
	byID := map[uint64]actors.ConnStats{}
	require.Eventually(t, func() bool {
		clear(byID)
		for _, s := range srv.ConnStats() {
			if s.BytesOut != s.BytesIn {
				return false
			}
			byID[s.ID] = s
		}
		return len(byID) == 3
	}, 5*time.Second, time.Millisecond)

	n := 0
	srv.EachConnStats(true, func(s *actors.ConnStats) bool {
		n++
		want := byID[s.ID]
		assert.Equal(t, want.BytesIn, s.BytesIn)
		assert.Equal(t, want.FramesOut, s.FramesOut)
		assert.Equal(t, want.Peer.String(), s.Peer.String())
		assert.Equal(t, want.Started, s.Started)
		e, err := registry.Of(sys).Lookup(host.SelfName(registry.Of(sys), s.PID))
		require.NoError(t, err)
		assert.Equal(t, e.Started, s.Started, "the start the registry has")
		assert.Equal(t, "tcp", s.Transport)
		return true
	})
	assert.Equal(t, 3, n)

	n = 0
	srv.EachConnStats(false, func(s *actors.ConnStats) bool {
		n++
		want := byID[s.ID]
		assert.Equal(t, want.BytesIn, s.BytesIn)
		assert.Equal(t, want.BytesOut, s.BytesOut)
		assert.Equal(t, want.PID.Id, s.PID.Id)
		assert.Equal(t, "up", s.State)
		assert.Equal(t, srv.Name(), s.Owner)
		assert.Nil(t, s.Peer, "not read without full")
		assert.Equal(t, want.Started, s.Started, "a column of every walk")
		return true
	})
	assert.Equal(t, 3, n)

	n = 0
	srv.EachConnStats(false, func(*actors.ConnStats) bool { n++; return false })
	assert.Equal(t, 1, n, "stopped")
}
