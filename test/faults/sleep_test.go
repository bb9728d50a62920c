package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
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
		require.Never(t, func() bool { return srv.Info().Accepted != accepted || len(testkit.Conns(t, srv)) != len(live) },
			150*time.Millisecond, tick, "accepted while asleep")
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
		require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == len(live) }, testkit.Wait, tick)
	}

	// Sleep and Wake are idempotent, and fail only once the server is
	// closed.
	require.NoError(t, srv.Wake(testkit.Ctx(t)))
	require.NoError(t, srv.Sleep(testkit.Ctx(t)))
	require.NoError(t, srv.Sleep(testkit.Ctx(t)))
	require.NoError(t, srv.Wake(testkit.Ctx(t)))
	requireAccepting(t, srv)
	require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
	require.ErrorIs(t, srv.Wake(testkit.Ctx(t)), server.ErrClosed)
	require.ErrorIs(t, srv.Sleep(testkit.Ctx(t)), server.ErrClosed)
	m, _ := srv.Mode()
	require.Equal(t, server.ModeClosed, m)
}

// gatedTCP is TCP whose listener holds each accepted socket until gate
// is closed, as an acceptor does that the scheduler leaves aside right
// after accept(2) returned: held tells when it has one.
type gatedTCP struct {
	transport.Transport
	held chan struct{}
	gate chan struct{}
}

func (g *gatedTCP) Listen(ctx context.Context, addr string, o *transport.Options) (transport.Listener, error) {
	ln, err := g.Transport.Listen(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	return &gatedListener{Listener: ln, g: g}, nil
}

type gatedListener struct {
	transport.Listener
	g *gatedTCP
}

func (l *gatedListener) Accept() (transport.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		select {
		case l.g.held <- struct{}{}:
		default:
		}
		<-l.g.gate
	}
	return c, err
}

// Defect 2: a socket an acceptor took just as the server went to sleep
// waits for Wake like one in the backlog: asleep, nothing is accepted.
func TestSleepHoldsAnAcceptInFlight(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	g := &gatedTCP{Transport: transport.TCP(), held: make(chan struct{}, 1), gate: make(chan struct{})}
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(1),
		actors.WithSocket(transport.WithTransport(g)))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	testkit.Write(t, c, "early")
	testkit.Recv(t, g.held) // the acceptor has it...
	require.NoError(t, srv.Sleep(testkit.Ctx(t)))
	close(g.gate) // ...and goes on after Sleep returned
	require.Never(t, func() bool { return srv.Info().Accepted != 0 || len(testkit.Conns(t, srv)) != 0 },
		200*time.Millisecond, tick, "accepted while asleep")
	require.NoError(t, srv.Wake(testkit.Ctx(t)))
	require.Equal(t, "early", string(testkit.ReadN(t, c, 5)), "accepted after Wake")
	require.EqualValues(t, 1, srv.Info().Accepted)
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "and the next")
}
