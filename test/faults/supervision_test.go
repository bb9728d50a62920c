package faults_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// promptStop bounds how long stopping an infrastructure actor may take:
// protoactor's StopFuture gives up after 10 s, which is what a stop held
// by a blocked Accept took.
const promptStop = 2 * time.Second

// stopPrompt stops pid and requires it to be gone promptly.
func stopPrompt(t testing.TB, sys *actor.ActorSystem, pid *actor.PID) {
	t.Helper()
	var err error
	took := within(func() { err = sys.Root.StopFuture(pid).Wait() })
	require.NoError(t, err, "stopping %s", pid.Id)
	require.Less(t, took, promptStop, "stopping %s", pid.Id)
}

// echoers are raw clients of an echo server, each checked with a round
// trip.
type echoers []net.Conn

func dialEchoers(t testing.TB, addr string, n int) echoers {
	t.Helper()
	cs := make(echoers, n)
	for i := range cs {
		cs[i] = testkit.DialRaw(t, "tcp", addr)
		roundTrip(t, cs[i], fmt.Sprintf("hello %d", i))
	}
	return cs
}

func (cs echoers) check(t testing.TB, round int) {
	t.Helper()
	for i, c := range cs {
		roundTrip(t, c, fmt.Sprintf("round %d client %d", round, i))
	}
}

// requireAccepting requires srv to accept and echo a fresh client.
func requireAccepting(t testing.TB, srv *server.Server) {
	t.Helper()
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, c, "fresh")
	c.Close()
}

// Defect 7: a stopped acceptor stops at once, is restarted, and the
// connections it accepted never notice.
func TestStopAcceptor(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p)
	live := dialEchoers(t, srv.Addr().String(), 20)

	for round, i := range []int{0, 3, 9, 0} {
		old := srv.Acceptors()[i].PID
		require.NotNil(t, old)
		before := srv.Info().AcceptorRestarts
		stopPrompt(t, sys, old)
		live.check(t, round)
		require.Eventually(t, func() bool {
			a := srv.Acceptors()[i]
			return a.PID != nil && a.PID != old && a.Mode == server.ModeAccepting
		}, testkit.Wait, tick, "acceptor %d restarted", i+1)
		require.Equal(t, before+1, srv.Info().AcceptorRestarts)
		requireAccepting(t, srv)
	}

	// All of them at once, twice.
	for round := range 2 {
		before := srv.Info().AcceptorRestarts
		var wg sync.WaitGroup
		for _, a := range srv.Acceptors() {
			wg.Go(func() { stopPrompt(t, sys, a.PID) })
		}
		wg.Wait()
		live.check(t, 10+round)
		require.Eventually(t, func() bool {
			m, uniform := srv.Mode()
			return uniform && m == server.ModeAccepting
		}, testkit.Wait, tick)
		require.Equal(t, before+10, srv.Info().AcceptorRestarts)
		requireAccepting(t, srv)
	}
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == len(live) }, testkit.Wait, tick)
	require.Eventually(t, func() bool { return p.nTerm.Load() == srv.Info().Terminated }, testkit.Wait, tick)
	info := srv.Info()
	require.Equal(t, int64(len(live)+6), info.Accepted, "the clients, and one fresh one per round")
	require.Equal(t, len(live), info.Active)
}

// connsSupOf is the connection supervisor a connection's PID lives under.
func connsSupOf(pid *actor.PID) string {
	id := pid.Id[:strings.LastIndex(pid.Id, "/")]
	return id[strings.LastIndex(id, "/")+1:]
}

// Defect 7: stopping a connection supervisor ends its connections (each
// Terminate runs) and it is restarted; the others carry on.
func TestStopConnsSupervisor(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	// Two listening sockets: the kernel spreads the clients over them,
	// and so over both acceptors and their connection supervisors.
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(2), server.WithListeners(2))
	clients := dialEchoers(t, srv.Addr().String(), 40)
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == len(clients) }, testkit.Wait, tick)

	byPort := map[int]net.Conn{}
	for _, c := range clients {
		byPort[c.LocalAddr().(*net.TCPAddr).Port] = c
	}
	var doomed, spared echoers
	var doomedIDs []uint64
	for _, ci := range testkit.Conns(t, srv) {
		c := byPort[ci.Peer.(*net.TCPAddr).Port]
		require.NotNil(t, c)
		if connsSupOf(ci.PID) == "conns-1" {
			doomed = append(doomed, c)
			doomedIDs = append(doomedIDs, ci.ID)
		} else {
			spared = append(spared, c)
		}
	}
	require.NotEmpty(t, doomed, "some connections under conns-1")
	require.NotEmpty(t, spared, "some connections under conns-2")

	stopPrompt(t, sys, actor.NewPID(sys.Address(), srv.PID().Id+"/conns-1"))
	p.awaitTerms(t, int64(len(doomed)))
	p.mu.Lock()
	for _, id := range doomedIDs {
		assert.Equal(t, 1, p.terms[id], "Terminate of connection %d", id)
		assert.ErrorIs(t, p.reasons[id], actors.ErrShutdown)
	}
	p.mu.Unlock()
	for _, c := range doomed {
		_, err := c.Read(make([]byte, 1))
		require.Error(t, err, "the connection ended")
	}
	spared.check(t, 1)
	require.Eventually(t, func() bool { return srv.Info().ConnsRestarts == 1 }, testkit.Wait, tick)
	for range 10 { // both supervisors take new connections again
		requireAccepting(t, srv)
	}
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == len(spared) }, testkit.Wait, tick)
	require.Never(t, func() bool { return p.nTerm.Load() != int64(len(doomed)+10) }, 50*time.Millisecond, tick)
	requireInfoAddsUp(t, srv) // a connection is counted as ended just after it leaves the list
	info := srv.Info()
	require.Equal(t, int64(len(clients)+10), info.Accepted)
	require.Equal(t, len(spared), info.Active)
}

// Defect 7: a connection supervisor stopped while clients keep arriving
// stops promptly; the sockets handed to it as it stops are closed and
// counted, and it is restarted.
func TestStopConnsSupervisorUnderChurn(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(1))
	sup := actor.NewPID(sys.Address(), srv.PID().Id+"/conns-1")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var kept []net.Conn // churned clients stay connected a while: their connections live on
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", srv.Addr().String(), testkit.Wait)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				kept = append(kept, c)
				if len(kept) > 200 { // churn: the oldest goes
					kept[0].Close()
					kept = kept[1:]
				}
				mu.Unlock()
			}
		})
	}
	for round := range 10 {
		require.Eventually(t, func() bool { return srv.Info().Active > 20 }, testkit.Wait, tick)
		stopPrompt(t, sys, sup)
		require.Eventually(t, func() bool { return srv.Info().ConnsRestarts == int64(round+1) }, testkit.Wait, tick)
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	for _, c := range kept {
		c.Close()
	}
	mu.Unlock()
	require.Eventually(t, func() bool { return srv.Info().Active == 0 }, testkit.Wait, tick, "%+v", srv.Info())
	requireInfoAddsUp(t, srv)
	p.requireOnce(t, int(p.nInit.Load()))
	requireAccepting(t, srv)
}
