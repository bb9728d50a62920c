package faults_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
)

// writeProbe is a probe whose HandleCall "block" holds the actor until
// release is closed, and whose HandleInfo reports Writability with what
// Conn.Writable said at the time.
type writeSeen struct {
	w        behaviours.Writability
	writable bool
}

func writeProbe() (*probe, chan struct{}, chan struct{}, chan writeSeen) {
	p := newProbe()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	seen := make(chan writeSeen, 64)
	p.call = func(c behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
		if req == "block" {
			entered <- struct{}{}
			<-release
		}
		return behaviours.Reply(c.Writable())
	}
	p.info = func(c behaviours.Conn, msg any) behaviours.Result {
		if w, ok := msg.(behaviours.Writability); ok {
			seen <- writeSeen{w, c.Writable()}
		}
		return behaviours.Continue()
	}
	return p, entered, release, seen
}

// Defect 6: watermarks. The actor is held in a callback while sends
// queue up past the high mark: the handler then hears Writable false,
// and Writable true once they are written.
func TestWritabilityWatermarks(t *testing.T) {
	sys := testkit.NewSystem(t)
	peers := listenPeer(t)
	p, entered, release, seen := writeProbe()
	pid := testkit.Dial(t, sys, peers.addr(), newHandler, p)
	peer := peers.accept()
	received := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(peer); received <- b }()

	called := make(chan error, 1)
	go func() { _, err := client.Call(testkit.Ctx(t), sys.Root, pid, "block"); called <- err }()
	testkit.Recv(t, entered)
	var want []byte
	for i := range 5 { // 80 KiB: past the 64 KiB high mark
		b := randomBytes(16<<10, uint64(10+i))
		want = append(want, b...)
		client.SendAsync(sys.Root, pid, b)
	}
	// Over the mark, SendSync waits: until its context ends...
	err := client.SendSync(ctxFor(t, 100*time.Millisecond), sys.Root, pid, []byte("never"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// ...or until the queue drains.
	last := []byte("last")
	synced := make(chan error, 1)
	go func() { synced <- client.SendSync(testkit.Ctx(t), sys.Root, pid, last) }()
	require.Never(t, func() bool { return len(synced) > 0 }, 100*time.Millisecond, tick, "SendSync returned over the high mark")

	close(release)
	require.NoError(t, testkit.Recv(t, called))
	require.NoError(t, testkit.Recv(t, synced))
	first := testkit.Recv(t, seen)
	assert.False(t, first.w.Writable, "first heard: over the high mark (%+v)", first)
	assert.False(t, first.writable, "Conn.Writable agrees")
	second := testkit.Recv(t, seen)
	assert.True(t, second.w.Writable, "then: drained (%+v)", second)
	assert.True(t, second.writable, "Conn.Writable agrees")
	w, err := client.Call(testkit.Ctx(t), sys.Root, pid, "writable?")
	require.NoError(t, err)
	assert.Equal(t, true, w)
	require.Never(t, func() bool { return len(seen) > 0 }, 50*time.Millisecond, tick, "no further writability change")

	require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, pid, nil))
	want = append(want, last...)
	require.Equal(t, want, testkit.Recv(t, received), "everything but the send that gave up delivered, in order")
}

// Defect 6: SendSync over the high mark waits until the peer reads, or
// fails at once with FailFast.
//
// Paced: the sends come slower than the actor writes them (5 ms apart),
// so the queue grows only because the socket stalls. Before, it passed
// only when the sender outran the actor.
func TestSendSyncWaitsForThePeer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failFast bool
		pace     time.Duration
	}{{"wait", false, 0}, {"fail fast", true, 0}, {"fail fast paced", true, 5 * time.Millisecond}} {
		failFast := tc.failFast
		t.Run(tc.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			peers := listenPeer(t)
			p, _, _, seen := writeProbe()
			pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, actors.WithSocket(smallSocket()),
				actors.WithWriteQueue(actors.WriteQueue{FailFast: failFast}))
			peer := peers.accept()
			var want []byte
			for i := range 64 { // 1 MiB against a few hundred KiB of socket buffers
				b := randomBytes(16<<10, uint64(100+i))
				want = append(want, b...)
				client.SendAsync(sys.Root, pid, b)
				if tc.pace > 0 {
					time.Sleep(tc.pace) // a slow sender, not a synchronisation
				}
			}
			ws := testkit.Recv(t, seen)
			require.False(t, ws.w.Writable, "over the high mark: %+v", ws)
			if failFast {
				err := client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte("refused"))
				require.ErrorIs(t, err, actors.ErrWriteBlocked)
			}
			last := []byte("last")
			synced := make(chan error, 1)
			go func() { synced <- sendSyncRetrying(t, sys, pid, last, failFast) }()
			require.Never(t, func() bool { return len(synced) > 0 }, 150*time.Millisecond, tick,
				"SendSync returned while the peer reads nothing")

			got := make(chan []byte, 1)
			go func() { got <- testkit.ReadN(t, peer, len(want)+len(last)) }()
			require.NoError(t, testkit.Recv(t, synced))
			want = append(want, last...)
			require.True(t, bytes.Equal(want, testkit.Recv(t, got)), "delivered in order, byte-exact")
			ws = testkit.Recv(t, seen)
			require.True(t, ws.w.Writable, "drained: %+v", ws)
			require.True(t, ws.writable)
			require.Zero(t, p.nTerm.Load())
		})
	}
}

// sendSyncRetrying is SendSync; with fail-fast it retries while the
// queue is blocked.
func sendSyncRetrying(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, b []byte, failFast bool) error {
	for {
		err := client.SendSync(testkit.Ctx(t), sys.Root, pid, b)
		if !failFast || !errors.Is(err, actors.ErrWriteBlocked) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
