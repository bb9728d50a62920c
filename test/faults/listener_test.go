package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// listeningFDs finds the process's listening sockets bound to port,
// through /proc/self/fd, getsockname and SO_ACCEPTCONN.
func listeningFDs(t testing.TB, port int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var out []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := syscall.Getsockname(fd)
		if err != nil {
			continue
		}
		if in4, ok := sa.(*syscall.SockaddrInet4); !ok || in4.Port != port {
			continue
		}
		if v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err == nil && v == 1 {
			out = append(out, fd)
		}
	}
	return out
}

// killListeners shuts the listening sockets on port down behind their
// owner's back, and returns how many there were.
func killListeners(t testing.TB, port int) int {
	t.Helper()
	fds := listeningFDs(t, port)
	for _, fd := range fds {
		require.NoError(t, syscall.Shutdown(fd, syscall.SHUT_RDWR))
	}
	return len(fds)
}

// Defect 7: a listening socket killed behind the server's back is
// reopened on the same address.
func TestListenerReopened(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(3))
	live := dialEchoers(t, srv.Addr().String(), 5)
	port := srv.Addr().(*net.TCPAddr).Port
	fdsBefore := fds(t)

	require.Equal(t, 1, killListeners(t, port))
	require.Eventually(t, func() bool { return srv.Info().ListenerReopens == 1 }, testkit.Wait, tick)
	require.Eventually(t, func() bool { return len(listeningFDs(t, port)) == 1 }, testkit.Wait, tick)
	requireAccepting(t, srv)
	live.check(t, 1)
	require.Equal(t, srv.Addr().String(), fmt.Sprintf("127.0.0.1:%d", port), "the same address")
	require.Eventually(t, func() bool { return fds(t) <= fdsBefore }, testkit.Wait, tick, "the dead socket was closed")
	require.NoError(t, srv.Err())
	m, uniform := srv.Mode()
	require.True(t, uniform)
	require.Equal(t, server.ModeAccepting, m)
}

// failingTCP is TCP whose Listen fails after the first call, for good
// or (failUntil set) until then.
type failingTCP struct {
	transport.Transport
	calls     atomic.Int32
	failUntil atomic.Int64 // unix nanoseconds; 0: for good
}

var errNoMoreListens = errors.New("no more listening sockets for you")

func (f *failingTCP) Listen(ctx context.Context, addr string, o *transport.Options) (transport.Listener, error) {
	if f.calls.Add(1) > 1 {
		if until := f.failUntil.Load(); until == 0 || time.Now().UnixNano() < until {
			return nil, errNoMoreListens
		}
	}
	return f.Transport.Listen(ctx, addr, o)
}

// Defect 7: when the listening socket dies and cannot be reopened, the
// server stops, and says why.
func TestListenerCannotBeReopened(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	tr := &failingTCP{Transport: transport.TCP()}
	srv := testkit.StartServer(t, sys, "", newHandler, p, actors.WithSocket(transport.WithTransport(tr)))
	live := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, live, "before")

	require.Equal(t, 1, killListeners(t, srv.Addr().(*net.TCPAddr).Port))
	select {
	case <-srv.Done():
	case <-time.After(testkit.Wait):
		t.Fatalf("the server did not give up: %+v", srv.Info())
	}
	require.ErrorIs(t, srv.Err(), errNoMoreListens)
	require.Greater(t, tr.calls.Load(), int32(1), "it tried to reopen")
	m, _ := srv.Mode()
	require.Equal(t, server.ModeClosed, m)
	p.awaitTerms(t, 1)
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrShutdown)
	p.requireOnce(t, 1)
	_, err := live.Read(make([]byte, 1))
	require.Error(t, err, "its connections ended")
}

// Defect 7: reopening retries with back-off, so a listening socket that
// cannot be reopened for a moment (here 150 ms) is reopened all the same,
// whatever the number of acceptors that saw it die.
func TestListenerReopenRetries(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	tr := &failingTCP{Transport: transport.TCP()}
	srv := testkit.StartServer(t, sys, "", newHandler, p, actors.WithSocket(transport.WithTransport(tr)))
	live := dialEchoers(t, srv.Addr().String(), 3)

	tr.failUntil.Store(time.Now().Add(150 * time.Millisecond).UnixNano())
	require.Equal(t, 1, killListeners(t, srv.Addr().(*net.TCPAddr).Port))
	require.Eventually(t, func() bool { return srv.Info().ListenerReopens == 1 || srv.Err() != nil }, testkit.Wait, tick)
	require.NoError(t, srv.Err(), "the server gave up after %d listens", tr.calls.Load())
	require.EqualValues(t, 1, srv.Info().ListenerReopens)
	requireAccepting(t, srv)
	live.check(t, 1)
	require.Greater(t, tr.calls.Load(), int32(2), "it failed before it succeeded")
}

// Defect 7: with two SO_REUSEPORT listeners, the one killed is reopened
// beside the other, and both accept again.
func TestOneOfTwoListenersReopened(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(4), server.WithListeners(2))
	port := srv.Addr().(*net.TCPAddr).Port
	fds := listeningFDs(t, port)
	require.Len(t, fds, 2)
	require.NoError(t, syscall.Shutdown(fds[0], syscall.SHUT_RDWR))
	require.Eventually(t, func() bool { return srv.Info().ListenerReopens == 1 }, testkit.Wait, tick)
	require.Eventually(t, func() bool { return len(listeningFDs(t, port)) == 2 }, testkit.Wait, tick)
	clients := dialEchoers(t, srv.Addr().String(), 40) // the kernel spreads them over both
	bySocket := map[int]int{}
	for _, c := range testkit.Conns(t, srv) {
		var sup int
		_, err := fmt.Sscanf(connsSupOf(c.PID), "conns-%d", &sup)
		require.NoError(t, err)
		bySocket[(sup-1)%2]++
	}
	require.Len(t, bySocket, 2, "both sockets accept: %v", bySocket)
	clients.check(t, 1)
	require.NoError(t, srv.Err())
}
