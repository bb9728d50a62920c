package actors

import (
	"context"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// sleepy hibernates from Init on and reports Terminate's reason.
type sleepy struct {
	behaviours.Base
	done chan error
}

func (s *sleepy) Init(behaviours.Conn, any) behaviours.Result { return behaviours.Hibernate() }
func (s *sleepy) Terminate(_ behaviours.Conn, reason error) error {
	s.done <- reason
	return reason
}

// A passivated connection whose socket cannot be brought back ends with
// the reason (Terminate runs, a request gets ErrClosed), and its owner's
// Live count drops as for any end.
func TestWakeWithLostSocketEndsTheConnection(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond))
	t.Cleanup(sys.Shutdown)

	ln, err := transport.TCP().Listen(context.Background(), "127.0.0.1:0", nil)
	require.NoError(t, err)
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer peer.Close()
	sock, err := ln.Accept()
	require.NoError(t, err)

	done := make(chan error, 1)
	g, err := newGroup(sys, "test", &ConnOptions{}, func() behaviours.Handler { return &sleepy{done: done} }, nil)
	require.NoError(t, err)
	pid, err := g.Spawn(sys.Root, "lost", 1, sock, true, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return g.Stats().Passivated == 1 }, 5*time.Second, time.Millisecond)

	proc, ok := sys.ProcessRegistry.Get(pid)
	require.True(t, ok)
	p := proc.(*process)
	p.mu.Lock()
	require.NoError(t, p.sleep.sock.Close()) // the descriptor is gone: Attach fails
	p.mu.Unlock()

	_, err = Request(context.Background(), sys.Root, pid, &Call{Request: "wake"})
	require.ErrorIs(t, err, ErrClosed)
	select {
	case reason := <-done:
		require.ErrorIs(t, reason, syscall.EBADF)
	case <-time.After(5 * time.Second):
		t.Fatal("Terminate did not run")
	}
	g.Wait()
	require.Equal(t, Stats{}, g.Stats())
}
