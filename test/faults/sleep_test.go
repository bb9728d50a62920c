package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// Defect 2: Sleep, Wake and Mode answer at once, whatever the acceptors
// are doing; asleep, a new client waits in the backlog, and is accepted
// after Wake.
func TestSleepWakeAnswerAtOnce(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(3))
	live := dialEchoers(t, srv.Addr().String(), 2)

	for round := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		require.NoError(t, srv.Sleep(ctx), "round %d", round)
		cancel()
		m, uniform := srv.Mode()
		require.Equal(t, server.ModeSleeping, m)
		require.True(t, uniform)
		for _, a := range srv.Acceptors() {
			require.Equal(t, server.ModeSleeping, a.Mode)
		}
		accepted := srv.Info().Accepted

		waiting := testkit.DialRaw(t, "tcp", srv.Addr().String()) // the connect completes: the backlog
		testkit.Write(t, waiting, "queued")
		assert.Never(t, func() bool { return srv.Info().Accepted != accepted || len(srv.Connections()) != len(live) },
			150*time.Millisecond, tick, "accepted while asleep")
		if t.Failed() {
			t.Fatalf("round %d: %+v %+v", round, srv.Info(), srv.Connections())
		}
		live.check(t, round) // open connections are untouched

		ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		require.NoError(t, srv.Wake(ctx))
		cancel()
		m, uniform = srv.Mode()
		require.Equal(t, server.ModeAccepting, m)
		require.True(t, uniform)
		require.Equal(t, "queued", string(testkit.ReadN(t, waiting, len("queued"))), "accepted after Wake")
		require.Equal(t, accepted+1, srv.Info().Accepted)
		waiting.Close()
		require.Eventually(t, func() bool { return len(srv.Connections()) == len(live) }, testkit.Wait, tick)
	}

	// Sleep and Wake are idempotent, and fail only once the server is
	// closed.
	require.NoError(t, srv.Wake(testkit.Ctx(t)))
	require.NoError(t, srv.Sleep(testkit.Ctx(t)))
	require.NoError(t, srv.Sleep(testkit.Ctx(t)))
	require.NoError(t, srv.Wake(testkit.Ctx(t)))
	requireAccepting(t, srv)
	require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
	require.ErrorIs(t, srv.Wake(testkit.Ctx(t)), server.ErrServerClosed)
	require.ErrorIs(t, srv.Sleep(testkit.Ctx(t)), server.ErrServerClosed)
	m, _ := srv.Mode()
	require.Equal(t, server.ModeClosed, m)
}
