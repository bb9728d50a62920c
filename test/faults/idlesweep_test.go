package faults_test

import (
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
)

// slowInit is an Init that takes twice the idle timeout d: the group's
// idle sweep runs (every d/4) while the connection is still starting.
func slowInit(d time.Duration) func(behaviours.Conn) behaviours.Result {
	return func(behaviours.Conn) behaviours.Result {
		time.Sleep(2 * d) // the scenario: an Init slower than the idle timeout
		return behaviours.Continue()
	}
}

// The idle sweep kept going while the group's only connection was still
// in its Init: a silent peer is closed with ErrIdleTimeout once it is up.
// Before the fix the sweep stopped for good when it found no connection
// up, and the peer stayed open until the test's deadline.
func TestIdleTimeoutAfterSlowInit(t *testing.T) {
	const d = 200 * time.Millisecond
	sys := testkit.NewSystem(t)
	p := newProbe()
	p.init = slowInit(d)
	srv := testkit.StartServer(t, sys, "", newHandler, p, length4(), actors.WithIdleTimeout(d))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	requireReset(t, c)
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrIdleTimeout)
	p.requireOnce(t, 1)
}

// The same on a client: its Init takes longer than its idle timeout, and
// the silent peer it dialled is reset afterwards.
func TestClientIdleTimeoutAfterSlowInit(t *testing.T) {
	const d = 200 * time.Millisecond
	sys := testkit.NewSystem(t)
	peer := listenPeer(t)
	p := newProbe()
	p.init = slowInit(d)
	accepted := make(chan error, 1)
	require.NoError(t, peer.ln.SetDeadline(time.Now().Add(testkit.Wait)))
	go func() {
		c, err := peer.ln.AcceptTCP()
		if err == nil {
			defer c.Close()
			if err = c.SetDeadline(time.Now().Add(testkit.Wait)); err == nil {
				_, err = io.Copy(io.Discard, c)
			}
		}
		accepted <- err
	}()
	_, err := testkit.TryDial(t, sys, peer.addr(), newHandler, p, actors.WithIdleTimeout(d))
	require.NoError(t, err)
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrIdleTimeout)
	err = testkit.Recv(t, accepted)
	require.False(t, isTimeout(err), "the peer was never closed: %v", err)
	require.ErrorIs(t, err, syscall.ECONNRESET)
	p.requireOnce(t, 1)
}
