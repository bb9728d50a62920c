package faults_test

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
)

// A Call with no sender (sent with Send rather than a request: there is
// nobody to reply to) is refused and logged; the connection stays up and
// its HandleCall does not run. Before the fix it panicked the connection's
// actor: the connection ended (the peer's next round trip failed) and
// Terminate ran.
func TestCallWithoutSenderIsRefused(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	var calls atomic.Int64
	p.call = func(behaviours.Conn, any, behaviours.From) behaviours.Result {
		calls.Add(1)
		return behaviours.Reply("answered")
	}
	logs := new(testkit.LockedBuffer)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
	srv := testkit.StartServer(t, sys, "", newHandler, p, actors.WithLogger(logger))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, c, "before")
	conns := testkit.Conns(t, srv)
	require.Len(t, conns, 1)

	sys.Root.Send(conns[0].PID, &actors.Call{Request: "who answers?"})
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "Call with no sender") },
		testkit.Wait, tick, "the refusal is logged; logs: %s", logs.String())
	require.Contains(t, logs.String(), "level=ERROR")

	roundTrip(t, c, "after") // the connection is still up
	require.Zero(t, calls.Load(), "HandleCall ran for a Call nobody can be answered")
	require.Zero(t, p.nTerm.Load(), "Terminate ran: the connection ended")

	// A Call with a sender still reaches HandleCall.
	v, err := actors.Request(testkit.Ctx(t), sys.Root, conns[0].PID, &actors.Call{Request: "and now?"})
	require.NoError(t, err)
	require.Equal(t, "answered", v)
	require.EqualValues(t, 1, calls.Load())
}
