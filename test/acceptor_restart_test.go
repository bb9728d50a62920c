package test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// An acceptor that is stopped is restarted by the server's supervisor,
// and counted in its own AcceptorInfo.Restarts and in Info.
func TestAcceptorRestartsCounted(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("WithListeners needs SO_REUSEPORT")
	}
	sys := testkit.NewSystem(t)
	// One listening socket each (SO_REUSEPORT, Linux): acceptors that
	// share one are all kicked out of Accept when one of them is stopped,
	// and one restoring the deadline (listening.settle) can hide the kick
	// from the stopped one, which then waits in Accept for a peer.
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithAcceptors(3), server.WithListeners(3))
	old := srv.Acceptors()[1].PID
	sys.Root.Stop(old)
	require.Eventually(t, func() bool {
		a := srv.Acceptors()[1]
		return a.PID != nil && a.PID.Id == old.Id && a.Restarts == 1
	}, testkit.Wait, time.Millisecond, "acceptors %+v, info %+v", srv.Acceptors(), srv.Info())
	for _, a := range srv.Acceptors() {
		if a.ID != 2 {
			require.Zero(t, a.Restarts, "acceptor %d", a.ID)
		}
	}
	require.Equal(t, int64(1), srv.Info().AcceptorRestarts)
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "after the restart")
}
