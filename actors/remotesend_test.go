package actors_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/internal/wirepb"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// Sends from another node arrive as wirepb.Send, delivered to the
// connection's PID by protoactor remote as these tests deliver them. They
// are counted in the write queue like local ones: they reach the
// watermarks, the cap refuses them, and a synchronous one is answered once
// its bytes are taken. Before, they skipped the count but were subtracted
// from it: never capped, and the local watermarks drifted.

// writabilityHandler reports every Writability it hears.
type writabilityHandler struct {
	behaviours.Base
	seen chan behaviours.Writability
}

func (h *writabilityHandler) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.seen = arg.(chan behaviours.Writability)
	return behaviours.Continue()
}

func (h *writabilityHandler) HandleInfo(_ behaviours.Conn, msg any) behaviours.Result {
	if w, ok := msg.(behaviours.Writability); ok {
		h.seen <- w
	}
	return behaviours.Continue()
}

// stalledPeer dials a listener whose accepted socket reads nothing, with
// small kernel buffers on both sides.
func stalledPeer(t *testing.T, sys *actor.ActorSystem, seen chan behaviours.Writability, opts ...actors.Option) (*actor.PID, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	small := actors.WithSocket(transport.WithSocketOptions(transport.SocketOptions{NoDelay: true,
		WriteBuffer: 32 << 10, ReadBuffer: 32 << 10}))
	pid, err := testkit.TryDial(t, sys, ln.Addr().String(), func() behaviours.Handler { return &writabilityHandler{} },
		seen, append([]actors.Option{small}, opts...)...)
	require.NoError(t, err)
	peer, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { peer.Close() })
	require.NoError(t, peer.(*net.TCPConn).SetReadBuffer(32<<10))
	require.NoError(t, peer.SetDeadline(time.Now().Add(testkit.Wait)))
	return pid, peer
}

func TestRemoteSendsAreCounted(t *testing.T) {
	sys := testkit.NewSystem(t)
	seen := make(chan behaviours.Writability, 16)
	pid, peer := stalledPeer(t, sys, seen)
	defer func() { _, _ = actors.Request(testkit.Ctx(t), sys.Root, pid, &actors.Stop{}) }()
	var want []byte
	for i := range 64 {
		b := bytes.Repeat([]byte{byte(i)}, 16<<10)
		want = append(want, b...)
		sys.Root.Send(pid, &wirepb.Send{Data: b})
	}
	w := testkit.Recv(t, seen)
	require.False(t, w.Writable, "over the high mark: %+v", w)
	var s actors.ConnStats
	require.Eventually(t, func() bool {
		s, _ = actors.ConnStatsOf(sys, pid)
		return s.Queued > 0 && int64(s.BytesOut)+s.Queued == int64(len(want))
	}, testkit.Wait, time.Millisecond, "sent = taken + queued")

	// A synchronous remote send is answered once its bytes are taken.
	last := []byte("last")
	f := sys.Root.RequestFuture(pid, &wirepb.Send{Data: last}, testkit.Wait)
	done := make(chan error, 1)
	go func() { _, err := f.Result(); done <- err }()
	require.Never(t, func() bool { return len(done) > 0 }, 100*time.Millisecond, 5*time.Millisecond,
		"answered while its bytes wait behind a peer that reads nothing")
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(io.LimitReader(peer, int64(len(want)+len(last)))); got <- b }()
	require.NoError(t, testkit.Recv(t, done))
	require.Equal(t, append(want, last...), testkit.Recv(t, got))
	w = testkit.Recv(t, seen)
	require.True(t, w.Writable, "drained: %+v", w)
}

func TestRemoteSendsAreCapped(t *testing.T) {
	sys := testkit.NewSystem(t)
	seen := make(chan behaviours.Writability, 16)
	pid, _ := stalledPeer(t, sys, seen, actors.WithWriteQueue(actors.WriteQueue{Max: 256 << 10}))
	for range 64 { // 1 MiB against a 256 KiB cap
		sys.Root.Send(pid, &wirepb.Send{Data: make([]byte, 16<<10)})
	}
	require.Eventually(t, func() bool { _, ok := actors.ConnStatsOf(sys, pid); return !ok }, testkit.Wait,
		time.Millisecond, "the connection ended on the overflow")
	_, err := actors.Request(testkit.Ctx(t), sys.Root, pid, &actors.Info{})
	require.ErrorIs(t, err, actors.ErrClosed)
}

// infoHandler hands every HandleInfo message to the channel Init got.
type infoHandler struct {
	behaviours.Base
	seen chan any
}

func (h *infoHandler) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.seen = arg.(chan any)
	return behaviours.Continue()
}

func (h *infoHandler) HandleInfo(_ behaviours.Conn, msg any) behaviours.Result {
	h.seen <- msg
	return behaviours.Continue()
}

// A reply from another node that no request waits for reaches HandleInfo
// as a Reply, as a local one would, not as the wire's generated type.
func TestUnsolicitedRemoteReplyIsAReply(t *testing.T) {
	sys := testkit.NewSystem(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	seen := make(chan any, 4)
	pid, err := testkit.TryDial(t, sys, ln.Addr().String(), func() behaviours.Handler { return &infoHandler{} }, seen)
	require.NoError(t, err)
	defer func() { _, _ = actors.Request(testkit.Ctx(t), sys.Root, pid, &actors.Stop{}) }()
	peer, err := ln.Accept()
	require.NoError(t, err)
	defer peer.Close()
	v, err := anypb.New(wrapperspb.String("late"))
	require.NoError(t, err)
	sys.Root.Send(pid, &wirepb.Reply{Value: v})
	sys.Root.Send(pid, &wirepb.Reply{Code: "closed", Error: "gone"})
	r, ok := testkit.Recv(t, seen).(*actors.Reply)
	require.True(t, ok, "not a *actors.Reply")
	require.Equal(t, "late", r.Value)
	r, ok = testkit.Recv(t, seen).(*actors.Reply)
	require.True(t, ok, "not a *actors.Reply")
	require.ErrorIs(t, r.Err, actors.ErrClosed)
}
