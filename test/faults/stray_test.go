package faults_test

import (
	"context"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// Defect 7: stray messages to the server's actors are dropped, a stray
// request is answered with an error, and nothing crashes.
func TestStrayMessages(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, server.WithAcceptors(2))
	live := dialEchoers(t, srv.Addr().String(), 3)
	targets := map[string]*actor.PID{
		"server supervisor":     srv.PID(),
		"connection supervisor": actor.NewPID(sys.Address(), srv.PID().Id+"/conns-1"),
		"acceptor":              srv.Acceptors()[0].PID,
	}
	acceptors := srv.Acceptors()
	for name, pid := range targets {
		t.Run(name, func(t *testing.T) {
			sys.Root.Send(pid, "stray")
			sys.Root.Send(pid, 42)
			var err error
			took := within(func() { _, err = actors.Request(ctxFor(t, promptStop), sys.Root, pid, "stray request") })
			require.Error(t, err)
			require.NotErrorIs(t, err, context.DeadlineExceeded, "answered, not left to time out")
			require.Less(t, took, promptStop)
			live.check(t, 0)
			requireAccepting(t, srv)
		})
	}
	info := srv.Info()
	require.Zero(t, info.AcceptorRestarts+info.ConnsRestarts+info.ListenerReopens, "nothing crashed: %+v", info)
	require.NoError(t, srv.Err())
	require.Equal(t, acceptors, srv.Acceptors(), "the same acceptors")
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 3 }, testkit.Wait, tick)
}
