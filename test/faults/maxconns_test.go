package faults_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// dialWaiting dials n clients that each send "wI" and, the limit
// reached, are not answered (checked together, so the checks overlap).
func dialWaiting(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	cs := make([]net.Conn, n)
	for i := range cs {
		cs[i] = testkit.DialRaw(t, "tcp", addr)
		testkit.Write(t, cs[i], fmt.Sprintf("w%02d", i))
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { requireWaiting(t, c) })
	}
	wg.Wait()
	return cs
}

// Issue 19, modelled on ranch's tcp_max_connections tests: a lowered
// limit is never overshot, even by the acceptors that were inside Accept
// when it changed (they took their room under the old limit); the
// connections already open above it stay; none is admitted until the
// count is under the limit; a raised limit admits the waiting at once.
func TestLoweredLimitIsNeverOvershot(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p) // 10 acceptors, default limit
	live := dialEchoers(t, srv.Addr().String(), 20)

	require.NoError(t, srv.SetMaxConnections(10))
	waiting := dialWaiting(t, srv.Addr().String(), 12)
	info := srv.Info()
	require.Equal(t, 20, info.Active, "none admitted over the lowered limit: %+v", info)
	require.EqualValues(t, 20, info.Accepted)
	live.check(t, 1) // those above the limit stay

	for _, c := range live[5:] { // 5 left: room for 5 of the waiting
		c.Close()
	}
	require.Eventually(t, func() bool { return srv.Info().Active == 10 }, testkit.Wait, tick, "%+v", srv.Info())
	require.Never(t, func() bool { return srv.Info().Active > 10 }, 100*time.Millisecond, tick)
	require.EqualValues(t, 25, srv.Info().Accepted)

	require.NoError(t, srv.SetMaxConnections(30)) // room for all: admitted at once
	for i, c := range waiting {
		require.Equal(t, fmt.Sprintf("w%02d", i), string(testkit.ReadN(t, c, 3)))
	}
	require.Eventually(t, func() bool { return srv.Info().Active == 17 }, testkit.Wait, tick, "%+v", srv.Info())
	live[:5].check(t, 2)
	requireInfoAddsUp(t, srv)
}

// The same with one acceptor and a limit lowered below the count, then
// raised a step at a time: each step admits exactly its room (ranch's
// tcp_set_max_connections).
func TestLimitRaisedStepByStep(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(1), server.WithMaxConnections(4))
	live := dialEchoers(t, srv.Addr().String(), 4)
	waiting := dialWaiting(t, srv.Addr().String(), 6)
	require.Equal(t, 4, srv.Info().Active)

	require.NoError(t, srv.SetMaxConnections(2)) // under the count: nothing admitted
	require.Never(t, func() bool { return srv.Info().Active != 4 }, 100*time.Millisecond, tick)
	for _, want := range []int{5, 7, 10} {
		require.NoError(t, srv.SetMaxConnections(want))
		require.Eventually(t, func() bool { return srv.Info().Active == want }, testkit.Wait, tick, "%+v", srv.Info())
		require.Never(t, func() bool { return srv.Info().Active > want }, 50*time.Millisecond, tick)
	}
	for i, c := range waiting {
		require.Equal(t, fmt.Sprintf("w%02d", i), string(testkit.ReadN(t, c, 3)))
	}
	live.check(t, 1)
	requireInfoAddsUp(t, srv)
}
