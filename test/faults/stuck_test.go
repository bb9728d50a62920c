package faults_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// stuckSlack bounds what a stop may take beyond its context and the stop
// grace when a callback never returns: generous, for a loaded machine
// under -race. Before the fix Server.Shutdown never returned.
const stuckSlack = 3 * time.Second

// stuckPackets makes p's HandlePacket block until the returned release
// is called (also when the test ends); entered receives once per packet
// as its callback starts.
func stuckPackets(t testing.TB, p *probe) (entered <-chan struct{}, release func()) {
	in := make(chan struct{}, 16)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	p.packet = func(behaviours.Conn, []byte) behaviours.Result {
		in <- struct{}{}
		<-gate // a callback that does not return
		return behaviours.Continue()
	}
	t.Cleanup(release)
	return in, release
}

// requireClosedByPeer reads from c (with a deadline of Wait) and requires
// that the other side closed or reset it, rather than the deadline
// passing.
func requireClosedByPeer(t testing.TB, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(testkit.Wait)))
	var err error
	for err == nil {
		_, err = c.Read(make([]byte, 512))
	}
	require.False(t, isTimeout(err), "the socket was left open: %v", err)
}

// A HandlePacket that never returns does not hold Server.Shutdown or
// Server.Stop up: each returns by its context plus the stop grace (and
// slack) with an error wrapping the context's, the stuck connection's
// peer sees its socket end by then, and once the callback returns
// Terminate runs once, with the stop reason. Before the fix Shutdown was
// still blocked 5 s after its 300 ms context, and after Stop the peer's
// socket stayed open until the callback returned.
func TestServerStopNotHeldByAStuckCallback(t *testing.T) {
	const wait = 300 * time.Millisecond
	for _, stop := range []struct {
		name string
		f    func(*server.Server, context.Context) error
	}{
		{"Shutdown", func(srv *server.Server, ctx context.Context) error { return srv.Shutdown(ctx) }},
		{"Stop", func(srv *server.Server, ctx context.Context) error { return srv.Stop(ctx, nil) }},
	} {
		t.Run(stop.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			p := newProbe()
			srv := testkit.StartServer(t, sys, "", newHandler, p)
			entered, release := stuckPackets(t, p)
			peer := testkit.DialRaw(t, "tcp", srv.Addr().String())
			testkit.Write(t, peer, "hold on")
			testkit.Recv(t, entered)

			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- stop.f(srv, ctxFor(t, wait)) }()
			select {
			case err := <-done:
				took := time.Since(start)
				t.Logf("%s took %v: %v", stop.name, took, err)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.GreaterOrEqual(t, took, wait)
				require.Less(t, took, wait+server.DefaultStopGrace+stuckSlack)
			case <-time.After(wait + server.DefaultStopGrace + stuckSlack):
				release() // let it return, for the goroutine check
				<-done
				t.Fatalf("%s still blocked %v after it began", stop.name, time.Since(start))
			}
			requireClosedByPeer(t, peer)
			closed := time.Since(start)
			t.Logf("the peer saw its connection end after %v", closed)
			require.Less(t, closed, wait+server.DefaultStopGrace+stuckSlack)
			require.Zero(t, p.nTerm.Load(), "Terminate ran before the callback returned")

			release()
			require.ErrorIs(t, p.terminated(t).reason, actors.ErrShutdown)
			testkit.Recv(t, srv.Done())
			p.requireOnce(t, 1)
			require.Never(t, func() bool { return p.nTerm.Load() != 1 }, 50*time.Millisecond, tick)
		})
	}
}

// client.Stop on a connection whose callback never returns returns by its
// context, and closes the connection's socket then: the peer sees it end
// before the callback returns; Terminate runs once afterwards. Before
// the fix the peer's socket stayed open until the callback returned.
func TestClientStopNotHeldByAStuckCallback(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	entered, release := stuckPackets(t, p)
	ln := listenPeer(t)
	pid, err := testkit.TryDial(t, sys, ln.addr(), newHandler, p)
	require.NoError(t, err)
	peer := ln.accept()
	testkit.Write(t, peer, "hold on")
	testkit.Recv(t, entered)

	stopWhileStuck(t, peer, p, func(ctx context.Context) error { return client.Stop(ctx, sys.Root, pid, nil) })
	release()
	term := p.terminated(t)
	t.Logf("Terminate reason: %v", term.reason)
	p.requireOnce(t, 1)
	require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, pid, nil), "stopping it again succeeds")
	require.Never(t, func() bool { return p.nTerm.Load() != 1 }, 50*time.Millisecond, tick)
}

// A pool's Stop is not held up by a connection whose callback never
// returns either: it returns by its context with an error wrapping the
// context's, the stuck connection's socket is shut down after the stop
// grace (the peer sees it end before the callback returns), and once the
// callback returns Terminate runs once and the pool is done. Before,
// the pool never forced its connections: the peer's socket stayed open
// until the callback returned.
func TestPoolStopNotHeldByAStuckCallback(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	entered, release := stuckPackets(t, p)
	ln := listenPeer(t)
	pl, err := pool.Start(sys, newHandler, p, []string{ln.addr()}, pool.WithStopGrace(100*time.Millisecond),
		actors.WithLogger(testkit.Discard))
	require.NoError(t, err)
	peer := ln.accept()
	testkit.Write(t, peer, "hold on")
	testkit.Recv(t, entered)

	stopWhileStuck(t, peer, p, func(ctx context.Context) error { return pl.Stop(ctx, nil) })
	release()
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrShutdown)
	testkit.Recv(t, pl.Done())
	p.requireOnce(t, 1)
}

// stopWhileStuck stops, with a 300 ms context, the one connection of
// peer's, whose callback does not return: the stop returns by its
// context with the context's error, the peer sees its socket end, and
// Terminate has not run (the callback still holds the actor).
func stopWhileStuck(t *testing.T, peer net.Conn, p *probe, stop func(context.Context) error) {
	t.Helper()
	const wait = 300 * time.Millisecond
	var stopErr error
	took := within(func() { stopErr = stop(ctxFor(t, wait)) })
	t.Logf("stop took %v: %v", took, stopErr)
	require.ErrorIs(t, stopErr, context.DeadlineExceeded)
	require.Less(t, took, wait+stuckSlack)
	requireClosedByPeer(t, peer)
	require.Zero(t, p.nTerm.Load(), "Terminate ran before the callback returned")
}
