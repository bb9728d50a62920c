package faults_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// The write path: a connection's actor never waits for its peer. Bytes
// the socket does not take wait in the connection's backlog, the handler
// hears Writability while the socket is stalled, the queued count is
// exact whatever sent the bytes, and nothing else the connection does
// (calls, stops) waits behind a slow peer.

// stalledStats waits until the connection's traffic stops moving (the
// peer reads nothing, the kernel's buffers are full) and returns its
// statistics then.
func stalledStats(t testing.TB, sys *actor.ActorSystem, pid *actor.PID) actors.ConnStats {
	t.Helper()
	var last actors.ConnStats
	since := time.Now()
	require.Eventually(t, func() bool {
		s, ok := actors.ConnStatsOf(sys, pid)
		require.True(t, ok, "the connection is alive")
		if s.BytesOut != last.BytesOut || s.Queued != last.Queued || s.Queued == 0 {
			last, since = s, time.Now()
			return false
		}
		return time.Since(since) >= 200*time.Millisecond
	}, testkit.Wait, tick)
	return last
}

// Writability{false} reaches the handler while its socket is stalled,
// and the queued bytes are exact: every byte sent is either taken by the
// socket (BytesOut) or queued. Before, a handler's packets and sends
// written by the actor left the count as they were copied into the write
// buffer, so 64 paced sends of 16 KiB to a peer that reads nothing were
// never reported, and a handler's 1 MiB packet was reported as Queued 0.
func TestWritabilityWhileStalled(t *testing.T) {
	const total = 1 << 20
	cases := map[string]func(sys *actor.ActorSystem, pid *actor.PID, data []byte){
		"a handler's packet": func(sys *actor.ActorSystem, pid *actor.PID, data []byte) {
			client.Cast(sys.Root, pid, "send it")
		},
		"paced local sends": func(sys *actor.ActorSystem, pid *actor.PID, data []byte) {
			for i := 0; i < len(data); i += 16 << 10 {
				client.SendAsync(sys.Root, pid, data[i:i+16<<10])
				time.Sleep(5 * time.Millisecond) // a sender slower than the actor, not a synchronisation
			}
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			peers := listenPeer(t)
			data := randomBytes(total, 77)
			p, _, _, seen := writeProbe()
			p.cast = func(behaviours.Conn, any) behaviours.Result { return behaviours.Send(data) }
			pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, actors.WithSocket(smallSocket()))
			peer := peers.accept()
			send(sys, pid, data)

			ws := testkit.Recv(t, seen)
			require.False(t, ws.w.Writable, "heard while the peer reads nothing: %+v", ws)
			require.False(t, ws.writable, "Conn.Writable agrees")
			require.Greater(t, ws.w.Queued, actors.DefaultWriteQueue.High, "over the high mark")
			require.LessOrEqual(t, ws.w.Queued, total)
			s := stalledStats(t, sys, pid)
			require.Equal(t, int64(total), int64(s.BytesOut)+s.Queued, "queued is exact: sent = taken + queued (%+v)", s)
			require.Positive(t, s.Queued)

			got := make(chan []byte, 1)
			go func() { got <- testkit.ReadN(t, peer, total) }()
			require.True(t, bytes.Equal(data, testkit.Recv(t, got)), "delivered byte-exact")
			ws = testkit.Recv(t, seen)
			require.True(t, ws.w.Writable, "drained: %+v", ws)
			require.Eventually(t, func() bool {
				s, _ := actors.ConnStatsOf(sys, pid)
				return s.Queued == 0 && s.BytesOut == total
			}, testkit.Wait, tick)
			require.Zero(t, p.nTerm.Load())
		})
	}
}

// While a peer reads nothing, the connection still answers calls at once,
// Stop returns at once (its Terminate runs), and what was queued before
// the stop is still delivered, then a clean end. Before, the call and the
// stop waited behind the blocked write until the write timeout.
func TestCallAndStopWhileStalled(t *testing.T) {
	sys := testkit.NewSystem(t)
	peers := listenPeer(t)
	data := randomBytes(1<<20, 78)
	p, _, _, _ := writeProbe()
	p.cast = func(behaviours.Conn, any) behaviours.Result { return behaviours.Send(data) }
	pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, actors.WithSocket(smallSocket()))
	peer := peers.accept()
	client.Cast(sys.Root, pid, "send it")
	stalledStats(t, sys, pid)

	var took time.Duration
	for range 10 {
		var w any
		var err error
		took = max(took, within(func() { w, err = client.Call(ctxFor(t, 2*time.Second), sys.Root, pid, "writable?") }))
		require.NoError(t, err, "a call is answered while the peer reads nothing")
		require.Equal(t, false, w)
	}
	t.Logf("slowest of 10 calls to a stalled connection: %v", took)
	took = within(func() { require.NoError(t, client.Stop(ctxFor(t, 2*time.Second), sys.Root, pid, nil)) })
	t.Logf("stop of a stalled connection: %v", took)
	require.Less(t, took, time.Second, "Stop does not wait for the peer")
	require.NoError(t, p.terminated(t).reason)

	got, err := io.ReadAll(peer)
	require.NoError(t, err, "a clean end after the queued bytes")
	require.True(t, bytes.Equal(data, got), "what was queued before the stop is delivered: %d of %d bytes", len(got), len(data))
	p.requireOnce(t, 1)
}

// A connection that ends on bad input first delivers the replies to the
// valid requests before it, then resets. Before, the reset threw away
// what the kernel still held: a valid 1 MiB frame followed by an
// oversized header got 113,152 of its 1,048,580 echoed bytes back.
func TestRepliesBeforeAnErrorEnd(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p,
		actors.WithSocket(transport.WithFramer(transport.Length(4)), transport.WithMaxFrame(2<<20)))
	peer := testkit.DialRaw(t, "tcp", srv.Addr().String())
	valid := randomBytes(1<<20, 79)
	oversized := []byte{0x10, 0, 0, 0} // a 256 MiB frame
	go func() { _, _ = peer.Write(append(frame(valid), oversized...)) }()

	got, err := io.ReadAll(peer)
	require.True(t, bytes.HasPrefix(got, frame(valid)) || bytes.Equal(got, frame(valid)),
		"the valid frame's echo arrives whole before the end: %d of %d bytes", len(got), len(frame(valid)))
	require.Len(t, got, len(frame(valid)))
	require.ErrorIs(t, err, syscall.ECONNRESET, "then a reset: an error end")
	require.ErrorIs(t, p.terminated(t).reason, transport.ErrFrameTooLarge)
}

// How the socket ends follows why the connection ended, not what
// Terminate made of the reason: an idle timeout is a reset even when
// Terminate returns nil. Before, a nil from Terminate made it a FIN.
func TestTerminateNilKeepsTheReset(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	p.swallow = true
	srv := testkit.StartServer(t, sys, "", newHandler, p, actors.WithIdleTimeout(100*time.Millisecond))
	peer := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, peer, "hello")
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrIdleTimeout)
	requireReset(t, peer)
}

// Back-pressure: an echo's replies to a peer that sends fast and reads
// slowly stay bounded near the high mark (the connection stops reading
// while it is over it), and every byte comes back.
func TestBackPressureBoundsAnEcho(t *testing.T) {
	const size = 4 << 20
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, actors.WithSocket(smallSocket()))
	peer := dialSmall(t, srv.Addr().String())
	roundTrip(t, peer, "hi")
	pid := testkit.Conns(t, srv)[0].PID
	data := randomBytes(size, 80)
	go func() { _, _ = peer.Write(data) }()
	var peak int64
	var mu sync.Mutex
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // the queue, as supervision reads it, while the echo runs
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if s, ok := actors.ConnStatsOf(sys, pid); ok {
				mu.Lock()
				peak = max(peak, s.Queued)
				mu.Unlock()
			}
		}
	}()
	got := testkit.Recv(t, readSteadily(peer, size, 64<<10, 10*time.Millisecond))
	close(stop)
	<-sampled
	require.True(t, bytes.Equal(data, got), "echoed byte-exact")
	t.Logf("peak queued: %d KiB (high mark %d KiB)", peak>>10, actors.DefaultWriteQueue.High>>10)
	require.LessOrEqual(t, peak, int64(actors.DefaultWriteQueue.High+64<<10),
		"the queue stays near the high mark: reads stop over it")
	require.Zero(t, p.nTerm.Load())
}

// A connection's mailbox is bounded: past the limit a message is refused
// with ErrOverflow, the connection ends with it, and one warning says so.
func TestMailboxLimit(t *testing.T) {
	sys := testkit.NewSystem(t)
	peers := listenPeer(t)
	logs := &syncBuffer{}
	p := newProbe()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	p.cast = func(behaviours.Conn, any) behaviours.Result {
		select {
		case entered <- struct{}{}:
			<-release
		default:
		}
		return behaviours.Continue()
	}
	pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, actors.WithMailboxLimit(100),
		actors.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	peers.accept()
	client.Cast(sys.Root, pid, "hold")
	testkit.Recv(t, entered)
	for range 100 {
		client.Cast(sys.Root, pid, "queued")
	}
	_, err := client.Call(testkit.Ctx(t), sys.Root, pid, "one too many")
	require.ErrorIs(t, err, actors.ErrOverflow)
	for range 10 {
		client.Cast(sys.Root, pid, "more")
	}
	close(release)
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrOverflow)
	require.Equal(t, 1, strings.Count(logs.String(), "sent more than it can hold"), "one warning: %s", logs)
	p.requireOnce(t, 1)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A SendSync to a connection whose peer stopped reading fails with the
// write timeout once the peer has taken nothing for that long, and the
// connection is reset; the actor answered other requests meanwhile.
func TestSendSyncStalledTimesOut(t *testing.T) {
	sys := testkit.NewSystem(t)
	peers := listenPeer(t)
	p, _, _, _ := writeProbe()
	pid := testkit.Dial(t, sys, peers.addr(), newHandler, p,
		actors.WithSocket(smallSocket(), transport.WithWriteTimeout(300*time.Millisecond)))
	peer := peers.accept()
	synced := make(chan error, 1)
	go func() { synced <- client.SendSync(testkit.Ctx(t), sys.Root, pid, randomBytes(1<<20, 81)) }()
	_, err := client.Call(ctxFor(t, 250*time.Millisecond), sys.Root, pid, "writable?")
	require.NoError(t, err, "answered while the SendSync waits for the peer")
	err = testkit.Recv(t, synced)
	require.ErrorIs(t, err, actors.ErrWriteTimeout)
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrWriteTimeout)
	requireReset(t, peer)
}
