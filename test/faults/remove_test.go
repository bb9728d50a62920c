package faults_test

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// Issue 19, modelled on ranch's tcp_remove_connections and
// tcp_max_connections_and_beyond: a connection that takes itself out of
// the count (from its handler) frees its slot, so a peer waiting at the
// limit is admitted; it still works, and its end frees nothing more.
func TestRemoveConnection(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	var srv atomic.Pointer[server.Server]
	p.packet = func(c behaviours.Conn, pk []byte) behaviours.Result {
		if string(pk) == "remove" {
			if err := srv.Load().RemoveConnection(c.Self()); err != nil {
				return behaviours.Stop(err)
			}
			return behaviours.Send([]byte("gone"))
		}
		return behaviours.Send(bytes.Clone(pk))
	}
	s := testkit.StartServer(t, sys, "", newHandler, p, server.WithMaxConnections(2))
	srv.Store(s)
	clients := dialEchoers(t, s.Addr().String(), 2)
	waiting := dialWaiting(t, s.Addr().String(), 1)

	testkit.Write(t, clients[0], "remove")
	require.Equal(t, "gone", string(testkit.ReadN(t, clients[0], 4)))
	require.Equal(t, "w00", string(testkit.ReadN(t, waiting[0], 3)), "the freed slot admits the waiting peer")
	info := s.Info()
	require.Equal(t, 3, info.Active)
	require.Equal(t, 2, info.Counted)
	roundTrip(t, clients[0], "still works")

	// Removing it again does nothing; a PID that is no connection is refused.
	pid := pidOf(t, s, clients[0])
	require.NoError(t, s.RemoveConnection(pid))
	require.Equal(t, 2, s.Info().Counted)
	require.ErrorIs(t, s.RemoveConnection(s.PID()), server.ErrNotConnection)
	require.ErrorIs(t, s.RemoveConnection(actor.NewPID(sys.Address(), "nobody")), server.ErrNotConnection)
	require.ErrorIs(t, s.RemoveConnection(nil), server.ErrNotConnection)

	// The removed one ending frees no slot: the limit still holds.
	clients[0].Close()
	require.Eventually(t, func() bool { return s.Info().Active == 2 }, testkit.Wait, tick)
	require.Equal(t, 2, s.Info().Counted)
	late := dialWaiting(t, s.Addr().String(), 1)
	clients[1].Close() // a counted one ends: the next is admitted
	require.Equal(t, "w00", string(testkit.ReadN(t, late[0], 3)))
	require.Eventually(t, func() bool { return s.Info().Counted == 2 && s.Info().Active == 2 }, testkit.Wait, tick)
	requireInfoAddsUp(t, s)
}
