package faults_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// requireInfoAddsUp checks that srv's counts agree with each other and
// with its connection list.
func requireInfoAddsUp(t testing.TB, srv *server.Server) {
	t.Helper()
	require.Eventually(t, func() bool {
		info := srv.Info()
		return info.Accepted-info.Terminated == int64(info.Active) && info.Active == info.Conns.Up &&
			info.Active == len(testkit.Conns(t, srv))
	}, testkit.Wait, tick, "Info adds up: %+v", srv.Info())
}

// waitingClient is a client in the listen backlog: its connect
// succeeded, nobody accepted it, and nothing reset it.
func requireWaiting(t testing.TB, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	_, err := c.Read(make([]byte, 1))
	require.True(t, isTimeout(err), "no answer, no reset: %v", err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(testkit.Wait)))
}

// Max connections: at the limit new clients wait in the backlog; a
// connection ending admits the next, a higher limit admits the waiting
// at once.
func TestMaxConnections(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithMaxConnections(5))
	require.Equal(t, 5, srv.Info().MaxConnections)
	served := dialEchoers(t, srv.Addr().String(), 5)

	waiting := make([]net.Conn, 3)
	for i := range waiting {
		waiting[i] = testkit.DialRaw(t, "tcp", srv.Addr().String())
		testkit.Write(t, waiting[i], fmt.Sprintf("w%d", i))
	}
	for _, c := range waiting {
		requireWaiting(t, c)
	}
	require.EqualValues(t, 5, srv.Info().Accepted)
	require.Len(t, testkit.Conns(t, srv), 5)

	served[0].Close() // one ends: the next is admitted
	require.Equal(t, "w0", string(testkit.ReadN(t, waiting[0], 2)))
	requireWaiting(t, waiting[1])
	require.EqualValues(t, 6, srv.Info().Accepted)

	require.NoError(t, srv.SetMaxConnections(7)) // room for both at once
	require.Equal(t, "w1", string(testkit.ReadN(t, waiting[1], 2)))
	require.Equal(t, "w2", string(testkit.ReadN(t, waiting[2], 2)))
	require.Equal(t, 7, srv.Info().MaxConnections)
	served[1:].check(t, 1)
	requireInfoAddsUp(t, srv)
	require.Equal(t, 7, srv.Info().Active)
	require.Error(t, srv.SetMaxConnections(-1))

	require.NoError(t, srv.SetMaxConnections(server.NoLimit))
	require.Equal(t, server.NoLimit, srv.Info().MaxConnections)
	more := dialEchoers(t, srv.Addr().String(), 5)
	more.check(t, 2)
	requireInfoAddsUp(t, srv)
	require.Zero(t, srv.Info().Rejected)
}

// Shutdown: the acceptors sleep, connections that end by themselves let
// it return before its context ends.
func TestShutdownLetsConnectionsFinish(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p)
	clients := dialEchoers(t, srv.Addr().String(), 3)

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- srv.Shutdown(ctxFor(t, 5*time.Second)) }()
	require.Eventually(t, func() bool { m, _ := srv.Mode(); return m == server.ModeSleeping }, testkit.Wait, tick)
	late := testkit.DialRaw(t, "tcp", srv.Addr().String())
	requireWaiting(t, late) // not accepted during the shutdown
	clients.check(t, 1)     // open connections carry on
	require.Empty(t, done)
	for _, c := range clients {
		c.Close()
	}
	require.NoError(t, testkit.Recv(t, done))
	took := time.Since(start)
	require.Less(t, took, 4*time.Second, "returned once the connections ended, not when the context did")
	p.requireOnce(t, 3)
	require.Zero(t, p.reasonsMatching(actors.ErrShutdown), "they ended by themselves")
	require.ErrorIs(t, srv.Err(), server.ErrClosed)
	_, err := late.Read(make([]byte, 1))
	require.Error(t, err, "the waiting client goes with the listener")
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done is not closed")
	}
}

// Shutdown with connections that never end: it returns after its context
// plus the stop grace, each Terminate once.
func TestShutdownStopsWhatIsLeft(t *testing.T) {
	const wait = 300 * time.Millisecond
	sys := testkit.NewSystem(t)
	p := newProbe()
	p.packet = func(_ behaviours.Conn, pk []byte) behaviours.Result {
		if string(pk) == "flood" {
			return behaviours.Send(make([]byte, 8<<20)) // to a peer that does not read
		}
		return behaviours.Send(append([]byte(nil), pk...))
	}
	srv := testkit.StartServer(t, sys, "", newHandler, p)
	idle := dialEchoers(t, srv.Addr().String(), 2)
	stuck := dialSmall(t, srv.Addr().String())
	testkit.Write(t, stuck, "flood")
	require.Eventually(t, func() bool { return srv.Info().Active == 3 }, testkit.Wait, tick)

	var err error
	took := within(func() { err = srv.Shutdown(ctxFor(t, wait)) })
	require.ErrorIs(t, err, context.DeadlineExceeded, "the grace ran out: the connections were stopped")
	t.Logf("shutdown took %v", took)
	require.GreaterOrEqual(t, took, wait)
	require.Less(t, took, wait+server.DefaultStopGrace+stopSlack)
	p.requireOnce(t, 3)
	require.Equal(t, 3, p.reasonsMatching(actors.ErrShutdown))
	for _, c := range idle {
		_, err := io.ReadAll(c)
		require.False(t, isTimeout(err))
	}
	requireInfoAddsUp(t, srv)
}

// WithListeners(2): two SO_REUSEPORT sockets on one address, both
// accepting.
func TestTwoListeners(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(4), server.WithListeners(2))
	require.Len(t, listeningFDs(t, srv.Addr().(*net.TCPAddr).Port), 2)
	// The kernel spreads the clients over both sockets by their ports: a
	// socket nobody accepted from would leave about half of them
	// unanswered, so 40 served clients prove both accept.
	clients := dialEchoers(t, srv.Addr().String(), 40)
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == len(clients) }, testkit.Wait, tick)
	clients.check(t, 1)
	requireInfoAddsUp(t, srv)
}
