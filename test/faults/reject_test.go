package faults_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// WithRejectOverLimit: over the limit a client is closed at once.
func TestRejectOverLimit(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithMaxConnections(3), server.WithRejectOverLimit())
	served := dialEchoers(t, srv.Addr().String(), 3)
	for i := range 4 {
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		_, err := io.ReadAll(c) // closed at once, without a byte
		require.False(t, isTimeout(err), "closed, not left waiting: %v", err)
		require.EqualValues(t, i+1, srv.Info().Rejected)
	}
	require.EqualValues(t, 3, srv.Info().Accepted, "rejected clients are not counted as accepted")
	served.check(t, 1)
	served[0].Close()
	require.Eventually(t, func() bool { return srv.Info().Active == 2 }, testkit.Wait, tick)
	requireAccepting(t, srv)
	require.Zero(t, p.nInit.Load()-4, "Init ran for the 3 served and the fresh one only")
	requireInfoAddsUp(t, srv)
}
