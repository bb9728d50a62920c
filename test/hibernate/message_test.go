package hibernate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/test/testkit"
)

// The Hibernate message hibernates (and passivates) a connection that
// never asked to; any later message wakes it, and a stopped connection
// answers it with ErrClosed.
func TestHibernateMessage(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "127.0.0.1:0", testkit.NewEcho, nil, actors.WithSocket(lineFraming))
	peer := testkit.DialRaw(t, "tcp", srv.Addr().String())
	defer peer.Close()
	testkit.Write(t, peer, "hi\n")
	require.Equal(t, "hi\n", string(testkit.ReadN(t, peer, 3)))
	pid := testkit.Conns(t, srv)[0].PID
	state := func() string {
		st, ok := actors.ConnStatsOf(sys, pid)
		require.True(t, ok)
		return st.State
	}
	require.Equal(t, "up", state())

	_, err := actors.Request(testkit.Ctx(t), sys.Root, pid, &actors.Hibernate{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return state() == "passivated" }, testkit.Wait, time.Millisecond)
	require.Equal(t, 1, srv.Info().Conns.Passivated)

	_, err = actors.Request(testkit.Ctx(t), sys.Root, pid, &actors.Info{})
	require.NoError(t, err)
	require.Equal(t, "up", state())
	testkit.Write(t, peer, "again\n")
	require.Equal(t, "again\n", string(testkit.ReadN(t, peer, 6)))

	require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
	_, err = actors.Request(testkit.Ctx(t), sys.Root, pid, &actors.Hibernate{})
	require.ErrorIs(t, err, actors.ErrClosed)
}
