package test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// An acceptor that is stopped is restarted by the server's supervisor,
// and counted in its own AcceptorInfo.Restarts and in Info.
func TestAcceptorRestartsCounted(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithAcceptors(3))
	old := srv.Acceptors()[1].PID
	require.NoError(t, sys.Root.StopFuture(old).Wait())
	require.Eventually(t, func() bool {
		a := srv.Acceptors()[1]
		return a.PID != nil && a.PID.Id == old.Id && a.Restarts == 1
	}, testkit.Wait, time.Millisecond)
	for _, a := range srv.Acceptors() {
		if a.ID != 2 {
			require.Zero(t, a.Restarts, "acceptor %d", a.ID)
		}
	}
	require.Equal(t, int64(1), srv.Info().AcceptorRestarts)
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "after the restart")
}
