package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/test/testkit"
)

// Shutdown says whether its grace ran out, as net/http's does: an error
// wrapping the context's when connections were still open and had to be
// stopped, nil when there were none left. Before the fix it returned nil
// in both cases.
func TestShutdownReportsForcedStop(t *testing.T) {
	t.Run("connections left when the grace ends", func(t *testing.T) {
		sys := testkit.NewSystem(t)
		p := newProbe()
		srv := testkit.StartServer(t, sys, "", newHandler, p)
		peers := dialEchoers(t, srv.Addr().String(), 2)
		peers.check(t, 1)
		require.Eventually(t, func() bool { return srv.Info().Active == 2 }, testkit.Wait, tick)

		err := srv.Shutdown(ctxFor(t, 300*time.Millisecond))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "2 connections")
		p.awaitTerms(t, 2)
		require.Equal(t, 2, p.reasonsMatching(actors.ErrShutdown), "they were stopped")
		p.requireOnce(t, 2)
	})

	t.Run("no connection", func(t *testing.T) {
		sys := testkit.NewSystem(t)
		srv := testkit.StartServer(t, sys, "", newHandler, newProbe())
		require.NoError(t, srv.Shutdown(ctxFor(t, 300*time.Millisecond)))
	})

	t.Run("a context ended already", func(t *testing.T) {
		sys := testkit.NewSystem(t)
		p := newProbe()
		srv := testkit.StartServer(t, sys, "", newHandler, p)
		peers := dialEchoers(t, srv.Addr().String(), 1)
		peers.check(t, 1)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, srv.Shutdown(ctx), context.Canceled)
		p.awaitTerms(t, 1)
		p.requireOnce(t, 1)
	})
}
