package hibernate_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sleeper counts what reaches it, answers every line with "<kind> <count>
// <pid>", and hibernates after every callback.
type sleeper struct {
	behaviours.Base
	n    int
	done chan error
}

func (s *sleeper) say(c behaviours.Conn, kind string) behaviours.Result {
	s.n++
	return behaviours.Send([]byte(fmt.Sprintf("%s %d %s", kind, s.n, c.Self().Id))).Hibernate()
}

func (s *sleeper) Init(_ behaviours.Conn, arg any) behaviours.Result {
	s.done = arg.(chan error)
	return behaviours.Hibernate()
}
func (s *sleeper) HandlePacket(c behaviours.Conn, _ []byte) behaviours.Result {
	return s.say(c, "packet")
}
func (s *sleeper) HandleCall(c behaviours.Conn, _ any, _ behaviours.From) behaviours.Result {
	return s.say(c, "call").Reply(s.n)
}
func (s *sleeper) HandleCast(c behaviours.Conn, _ any) behaviours.Result  { return s.say(c, "cast") }
func (s *sleeper) HandleEvent(c behaviours.Conn, _ any) behaviours.Result { return s.say(c, "event") }
func (s *sleeper) HandleInfo(c behaviours.Conn, _ any) behaviours.Result  { return s.say(c, "info") }
func (s *sleeper) HandleDisconnect(c behaviours.Conn) behaviours.Result {
	s.n++
	return behaviours.Continue()
}
func (s *sleeper) Terminate(_ behaviours.Conn, reason error) error {
	s.done <- fmt.Errorf("terminated after %d: %w", s.n, reason)
	return reason
}

type fixture struct {
	sys  *actor.ActorSystem
	srv  *server.Server
	done chan error
}

func start(t *testing.T, opts ...server.Option) *fixture {
	t.Helper()
	sys := testkit.NewSystem(t)
	done := make(chan error, 10000)
	// ParkAfter(-1): only hibernation, never idle parking, may drop a goroutine.
	opts = append([]server.Option{server.WithAcceptors(2), actors.WithParkAfter(-1),
		actors.WithSocket(transport.WithFramer(transport.Line()))}, opts...)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &sleeper{} }, done, opts...)
	return &fixture{sys: sys, srv: srv, done: done}
}

type peer struct {
	net.Conn
	r *bufio.Reader
}

func (f *fixture) dial(t *testing.T) *peer {
	t.Helper()
	c := testkit.DialRaw(t, "tcp", f.srv.Addr().String())
	return &peer{Conn: c, r: bufio.NewReader(c)}
}

// expect reads one line and checks its kind and count; it returns the PID id.
func (p *peer) expect(t *testing.T, kind string, n int) string {
	t.Helper()
	line := testkit.ReadLine(t, p.r)
	f := strings.Fields(line)
	require.Len(t, f, 3, line)
	require.Equal(t, kind, f[0])
	require.Equal(t, fmt.Sprint(n), f[1])
	return f[2]
}

// counts reads an owner's connections counted by state.
type counts func() actors.Stats

func (f *fixture) counts() actors.Stats { return f.srv.Info().Conns }

func serverCounts(srv *server.Server) counts { return func() actors.Stats { return srv.Info().Conns } }

// clientCounts counts one client connection.
func clientCounts(sys *actor.ActorSystem, pid *actor.PID) counts {
	return func() actors.Stats {
		s, _ := actors.StatsOf(sys, pid)
		return s
	}
}

// settled waits until no connection of c holds a goroutine: no reader
// runs and no actor has a turn under way.
func settled(t *testing.T, c counts) {
	t.Helper()
	require.Eventually(t, func() bool { s := c(); return s.Reading == 0 && s.Busy == 0 },
		5*time.Second, time.Millisecond, "connections still hold goroutines: %+v", c())
}

// passivated waits until n connections of c are passivated.
func passivated(t *testing.T, c counts, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return c().Passivated == n }, 10*time.Second, time.Millisecond,
		"want %d passivated connections: %+v", n, c())
}

func TestHibernatedConnectionsHoldNoGoroutine(t *testing.T) {
	f := start(t)
	const n = 50
	peers := make([]*peer, n)
	pids := make([]string, n)
	for i := range peers {
		peers[i] = f.dial(t)
		_, err := peers[i].Write([]byte("hi\n"))
		require.NoError(t, err)
		pids[i] = peers[i].expect(t, "packet", 1)
	}
	// 50 hibernated connections, passivated: no actor and no goroutine
	// for any of them.
	settled(t, f.counts)
	passivated(t, f.counts, n)
	// The server still lists them, with their addresses read from the sockets.
	byPeer := map[string]actors.ConnInfo{}
	for _, info := range testkit.Conns(t, f.srv) {
		byPeer[info.Peer.String()] = info
	}
	require.Len(t, byPeer, n)
	for i, p := range peers {
		info, ok := byPeer[p.LocalAddr().String()]
		require.True(t, ok, "connection %d listed", i)
		require.Equal(t, p.RemoteAddr().String(), info.Local.String())
		require.Equal(t, pids[i], info.PID.Id)
		require.Equal(t, "tcp", info.Transport)
	}
	for round := 2; round <= 3; round++ {
		for i, p := range peers {
			_, err := p.Write([]byte("again\n"))
			require.NoError(t, err)
			require.Equal(t, pids[i], p.expect(t, "packet", round), "same PID after waking")
		}
		settled(t, f.counts)
		passivated(t, f.counts, n)
	}
}

func TestHibernatedConnectionWakesOnEveryMessage(t *testing.T) {
	f := start(t)
	p := f.dial(t)
	_, err := p.Write([]byte("hi\n"))
	require.NoError(t, err)
	id := p.expect(t, "packet", 1)
	require.Eventually(t, func() bool { return len(testkit.Conns(t, f.srv)) == 1 }, 5*time.Second, time.Millisecond)
	pid := testkit.Conns(t, f.srv)[0].PID
	require.Equal(t, id, pid.Id)
	root := f.sys.Root
	ctx := context.Background()

	// Each message below reaches a passivated connection.
	passivated(t, f.counts, 1)
	got, err := client.Call(ctx, root, pid, "wake")
	require.NoError(t, err)
	require.Equal(t, 2, got)
	require.Equal(t, id, p.expect(t, "call", 2))

	passivated(t, f.counts, 1)
	client.Cast(root, pid, "wake")
	require.Equal(t, id, p.expect(t, "cast", 3))

	passivated(t, f.counts, 1)
	client.Event(root, pid, "wake")
	require.Equal(t, id, p.expect(t, "event", 4))

	passivated(t, f.counts, 1)
	client.Info(root, pid, "wake")
	require.Equal(t, id, p.expect(t, "info", 5))

	passivated(t, f.counts, 1)
	require.NoError(t, client.SendSync(ctx, root, pid, []byte("sent 6 "+id)))
	p.expect(t, "sent", 6) // a send runs no callback: the connection stays awake

	_, err = p.Write([]byte("bytes\n"))
	require.NoError(t, err)
	require.Equal(t, id, p.expect(t, "packet", 6))

	passivated(t, f.counts, 1)
	require.NoError(t, client.Stop(ctx, root, pid, errors.New("bye")))
	select {
	case err := <-f.done:
		require.EqualError(t, err, "terminated after 6: bye")
	case <-time.After(5 * time.Second):
		t.Fatal("Terminate did not run")
	}
}

func TestHibernatedConnectionSeesPeerClose(t *testing.T) {
	f := start(t)
	p := f.dial(t)
	_, err := p.Write([]byte("hi\n"))
	require.NoError(t, err)
	p.expect(t, "packet", 1)
	passivated(t, f.counts, 1)
	require.NoError(t, p.Close())
	select {
	case err := <-f.done:
		require.EqualError(t, err, "terminated after 2: %!w(<nil>)") // disconnect counted, normal reason
	case <-time.After(5 * time.Second):
		t.Fatal("Terminate did not run on peer close")
	}
}

func TestIdleHibernateOption(t *testing.T) {
	// Echo does not hibernate by itself; the server's idle-hibernate does.
	srv := testkit.StartServer(t, testkit.NewSystem(t), "", testkit.NewEcho, nil,
		actors.WithParkAfter(-1), actors.WithIdleHibernate(20*time.Millisecond))
	var conns []net.Conn
	for range 20 {
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		conns = append(conns, c)
		testkit.Write(t, c, "x")
		b := make([]byte, 1)
		_, err := c.Read(b)
		require.NoError(t, err)
	}
	settled(t, serverCounts(srv))
	for _, c := range conns {
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		testkit.Write(t, c, "y")
		b := make([]byte, 1)
		_, err := c.Read(b)
		require.NoError(t, err)
		require.Equal(t, "y", string(b))
	}
}

// An active connection idle for ParkAfter parks its reader on the shared
// poller without hibernating; a busy one keeps answering meanwhile.
func TestIdleReadersPark(t *testing.T) {
	srv := testkit.StartServer(t, testkit.NewSystem(t), "", testkit.NewEcho, nil,
		actors.WithParkAfter(20*time.Millisecond))
	echo := func(c net.Conn, b byte) {
		t.Helper()
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		_, err := c.Write([]byte{b})
		require.NoError(t, err)
		got := make([]byte, 1)
		_, err = c.Read(got)
		require.NoError(t, err)
		require.Equal(t, b, got[0])
	}
	var conns []net.Conn
	for i := range 20 {
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		conns = append(conns, c)
		echo(c, byte(i))
	}
	settled(t, serverCounts(srv))
	// Busy for several ParkAfter periods: every exchange still answers.
	deadline := time.Now().Add(100 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		echo(conns[0], byte(i))
	}
	for i, c := range conns {
		echo(c, byte(i+1))
	}
	settled(t, serverCounts(srv))
}

// Stopping a server wakes its passivated connections: each runs Terminate,
// while idle readers of the woken ones park and unpark around them.
func TestStopWithPassivatedConnections(t *testing.T) {
	f := start(t, actors.WithParkAfter(0), server.WithAcceptors(10))
	const n = 1000
	for range n {
		p := f.dial(t)
		_, err := p.Write([]byte("hi\n"))
		require.NoError(t, err)
		p.expect(t, "packet", 1)
	}
	passivated(t, f.counts, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, f.srv.Stop(ctx, nil))
	require.Len(t, f.done, n)
	for range n {
		require.ErrorIs(t, <-f.done, actors.ErrShutdown)
	}
	require.Zero(t, f.counts().Passivated)
}
