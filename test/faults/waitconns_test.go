package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/test/testkit"
)

// WaitConnections waits for a condition on the number of connections.
func TestWaitConnections(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p)
	require.NoError(t, srv.WaitConnections(testkit.Ctx(t), func(n int) bool { return n == 0 }))

	three := make(chan error, 1)
	go func() { three <- srv.WaitConnections(testkit.Ctx(t), func(n int) bool { return n >= 3 }) }()
	clients := dialEchoers(t, srv.Addr().String(), 2)
	require.Never(t, func() bool { return len(three) > 0 }, 50*time.Millisecond, tick)
	clients = append(clients, dialEchoers(t, srv.Addr().String(), 1)...)
	require.NoError(t, testkit.Recv(t, three))

	err := srv.WaitConnections(ctxFor(t, 50*time.Millisecond), func(n int) bool { return n == 0 })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	for _, c := range clients {
		c.Close()
	}
	require.NoError(t, srv.WaitConnections(testkit.Ctx(t), func(n int) bool { return n == 0 }))
	p.requireOnce(t, 3)
	requireInfoAddsUp(t, srv)
}
