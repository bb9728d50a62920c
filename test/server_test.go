package test

import (
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// requireMode asserts every acceptor of srv is in mode m.
func requireMode(t *testing.T, srv *server.Server, m server.Mode) {
	t.Helper()
	got, uniform := srv.Mode()
	require.True(t, uniform, "acceptors disagree: %v", srv.Acceptors())
	require.Equal(t, m, got)
	for _, a := range srv.Acceptors() {
		require.Equal(t, m, a.Mode, "acceptor %d", a.ID)
	}
}

func TestSleepAndWake(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	requireMode(t, srv, server.ModeAccepting)
	open := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, open, "before sleep")

	require.NoError(t, srv.Sleep(testkit.Ctx(t)))
	requireMode(t, srv, server.ModeSleeping)
	assert.Equal(t, "sleeping", server.ModeSleeping.String())
	roundTrip(t, open, "open connections keep working")

	// The listener stays open: the dial completes, but nobody accepts.
	waiting := testkit.DialRaw(t, "tcp", srv.Addr().String())
	testkit.Write(t, waiting, "queued")
	requireSilent(t, waiting, quiet)
	assert.Len(t, testkit.Conns(t, srv), 1)

	require.NoError(t, srv.Wake(testkit.Ctx(t)))
	requireMode(t, srv, server.ModeAccepting)
	assert.Equal(t, "queued", string(testkit.ReadN(t, waiting, len("queued"))))
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "new after wake")
	roundTrip(t, open, "still open")

	// Sleep and wake again: they take effect every time.
	require.NoError(t, srv.Sleep(testkit.Ctx(t)))
	requireMode(t, srv, server.ModeSleeping)
	require.NoError(t, srv.Wake(testkit.Ctx(t)))
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "again")
}

func TestStartAsleep(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithStartAsleep())
	requireMode(t, srv, server.ModeSleeping)
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	testkit.Write(t, raw, "hi")
	requireSilent(t, raw, quiet)

	require.NoError(t, srv.Wake(testkit.Ctx(t)))
	requireMode(t, srv, server.ModeAccepting)
	assert.Equal(t, "hi", string(testkit.ReadN(t, raw, 2)))
}

func TestAcceptors(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []server.Option
		want int
	}{
		{"default", nil, server.DefaultAcceptors},
		{"WithAcceptors", []server.Option{server.WithAcceptors(3)}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), tt.opts...)
			as := srv.Acceptors()
			require.Len(t, as, tt.want)
			pids := map[string]bool{}
			for i, a := range as {
				assert.Equal(t, i+1, a.ID)
				require.NotNil(t, a.PID)
				pids[a.PID.String()] = true
				assert.Equal(t, server.ModeAccepting, a.Mode)
			}
			assert.Len(t, pids, tt.want, "distinct PIDs")
		})
	}
	assert.Equal(t, 10, server.DefaultAcceptors)
}

func TestAddrInUse(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	_, err := server.Start(sys, newEcho, newProbe(), srv.Addr().String(), actors.WithLogger(testkit.Discard))
	require.ErrorIs(t, err, server.ErrAddrInUse)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "the first server is unharmed")
}

func TestInvalidOptions(t *testing.T) {
	sys := testkit.NewSystem(t)
	for _, tt := range []struct {
		name string
		try  func() (*server.Server, error)
	}{
		{"nil option", func() (*server.Server, error) {
			return server.Start(sys, newEcho, nil, "127.0.0.1:0", nil)
		}},
		{"nil socket option", func() (*server.Server, error) {
			return server.Start(sys, newEcho, nil, "127.0.0.1:0", actors.WithSocket(nil))
		}},
		{"negative acceptors", func() (*server.Server, error) {
			return server.Start(sys, newEcho, nil, "127.0.0.1:0", server.WithAcceptors(-1))
		}},
		{"nil factory", func() (*server.Server, error) {
			return server.Start(sys, nil, nil, "127.0.0.1:0")
		}},
		{"nil system", func() (*server.Server, error) {
			return server.Start(nil, newEcho, nil, "127.0.0.1:0")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := tt.try()
			assert.Nil(t, srv)
			assert.ErrorIs(t, err, server.ErrInvalidOptions)
		})
	}
}

func TestNameTaken(t *testing.T) {
	sys := testkit.NewSystem(t)
	testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithName("dup"))
	_, err := server.Start(sys, newEcho, newProbe(), "127.0.0.1:0", server.WithName("dup"), actors.WithLogger(testkit.Discard))
	assert.ErrorIs(t, err, server.ErrNameTaken)
}

// listenIniter replaces the init argument, or refuses to start.
type listenIniter struct{ base }

type listenArg struct {
	p      *probe
	refuse bool
}

func (h *listenIniter) ListenInit(info behaviours.ListenInfo, arg any) (any, error) {
	a := arg.(listenArg)
	a.p.emit("listen", info)
	if a.refuse {
		return nil, errBoom
	}
	return a.p, nil
}

var _ behaviours.ListenIniter = (*listenIniter)(nil)

func TestListenInit(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &listenIniter{} }, listenArg{p: p},
		server.WithName("li"))
	info := p.expect(t, "listen").val.(behaviours.ListenInfo)
	assert.Equal(t, srv.Addr().String(), info.Addr)
	assert.Equal(t, "li", info.Name)
	assert.Equal(t, "tcp", info.Transport)

	testkit.DialRaw(t, "tcp", srv.Addr().String())
	assert.Same(t, p, p.expect(t, "init").val, "Init gets the argument ListenInit returned")
}

func TestListenInitRefuses(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv, err := server.Start(sys, func() behaviours.Handler { return &listenIniter{} }, listenArg{p: p, refuse: true},
		"127.0.0.1:0", actors.WithLogger(testkit.Discard))
	assert.Nil(t, srv)
	require.ErrorIs(t, err, server.ErrListenInit)
	require.ErrorIs(t, err, errBoom)
	addr := p.expect(t, "listen").val.(behaviours.ListenInfo).Addr
	// The listening socket was closed: its port can be bound again.
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	ln.Close()
}

func TestConnectionsListAndShrink(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	assert.Empty(t, testkit.Conns(t, srv))
	raws := []net.Conn{testkit.DialRaw(t, "tcp", srv.Addr().String()), testkit.DialRaw(t, "tcp", srv.Addr().String()), testkit.DialRaw(t, "tcp", srv.Addr().String())}
	for _, r := range raws {
		roundTrip(t, r, "up")
	}
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 3 }, testkit.Wait, time.Millisecond)

	peers := map[string]bool{}
	for _, c := range testkit.Conns(t, srv) {
		require.NotNil(t, c.PID)
		assert.Equal(t, srv.Addr().String(), c.Local.String())
		assert.Equal(t, "tcp", c.Transport)
		peers[c.Peer.String()] = true
	}
	for _, r := range raws {
		assert.True(t, peers[r.LocalAddr().String()], "peer %s listed", r.LocalAddr())
	}

	gone := raws[1].LocalAddr().String()
	require.NoError(t, raws[1].Close())
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 2 }, testkit.Wait, time.Millisecond)
	for _, c := range testkit.Conns(t, srv) {
		assert.NotEqual(t, gone, c.Peer.String())
	}
}

// slowTerminator takes its time to terminate.
type slowTerminator struct {
	base
	done *atomic.Int32
}

func (h *slowTerminator) Terminate(c behaviours.Conn, reason error) error {
	time.Sleep(20 * time.Millisecond) // a Terminate with real work to do
	h.done.Add(1)
	return h.base.Terminate(c, reason)
}

func TestStopWaitsForEveryTerminate(t *testing.T) {
	const n = 8
	sys := testkit.NewSystem(t)
	p := newProbe()
	var done atomic.Int32
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &slowTerminator{done: &done} }, p)
	for range n {
		testkit.DialRaw(t, "tcp", srv.Addr().String())
		p.expect(t, "init")
	}
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == n }, testkit.Wait, time.Millisecond)

	require.NoError(t, srv.Stop(testkit.Ctx(t), errBye))
	assert.Equal(t, int32(n), done.Load(), "Stop returned before every Terminate ran")
	for range n {
		assert.ErrorIs(t, p.terminated(t), errBye)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	assert.Empty(t, testkit.Conns(t, srv))
	requireMode(t, srv, server.ModeClosed)
	require.NoError(t, srv.Stop(testkit.Ctx(t), nil), "stopping again is harmless")
	_, err := net.DialTimeout("tcp", srv.Addr().String(), testkit.Wait)
	assert.Error(t, err, "the listener is closed")
}

func TestManyServersOneSystem(t *testing.T) {
	sys := testkit.NewSystem(t)
	var srvs []*server.Server
	for i := range 3 {
		srvs = append(srvs, testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithName(fmt.Sprintf("s%d", i))))
	}
	for _, s := range srvs {
		roundTrip(t, testkit.DialRaw(t, "tcp", s.Addr().String()), s.Name())
	}
	require.NoError(t, srvs[1].Stop(testkit.Ctx(t), nil))
	roundTrip(t, testkit.DialRaw(t, "tcp", srvs[0].Addr().String()), "others keep serving")
	roundTrip(t, testkit.DialRaw(t, "tcp", srvs[2].Addr().String()), "others keep serving")
}
