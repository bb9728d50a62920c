package test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// served is a handler for both ends: it reports packets, casts and
// calls, and answers calls.
type served struct{ base }

func (h *served) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.p.emit("packet", string(p))
	return behaviours.Continue()
}

func (h *served) HandleCast(_ behaviours.Conn, m any) behaviours.Result {
	h.p.emit("cast", m)
	return behaviours.Continue()
}

func (h *served) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply([2]any{"re", req})
}

func newServed() behaviours.Handler { return &served{} }

func TestClientAPIOnClientConnection(t *testing.T) {
	sys := testkit.NewSystem(t)
	sp := newProbe()
	srv := testkit.StartServer(t, sys, "", newServed, sp)
	cp := newProbe()
	pid := testkit.Dial(t, sys, srv.Addr().String(), newServed, cp)
	cp.expect(t, "init")
	sp.expect(t, "init")

	require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte("sync")))
	assert.Equal(t, "sync", sp.expect(t, "packet").val)
	client.SendAsync(sys.Root, pid, []byte("async"))
	assert.Equal(t, "async", sp.expect(t, "packet").val)

	v, err := client.Call(testkit.Ctx(t), sys.Root, pid, "q")
	require.NoError(t, err)
	assert.Equal(t, [2]any{"re", "q"}, v)
	client.Cast(sys.Root, pid, "c")
	assert.Equal(t, "c", cp.expect(t, "cast").val)

	info, err := client.Describe(testkit.Ctx(t), sys.Root, pid)
	require.NoError(t, err)
	assert.Equal(t, pid, info.PID)
	assert.Equal(t, srv.Addr().String(), info.Peer.String())
	assert.Equal(t, "tcp", info.Transport)

	require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, pid, errBye))
	assert.ErrorIs(t, cp.terminated(t), errBye)
	assert.NoError(t, sp.terminated(t), "the server sees the peer close")

	// After the stop the PID answers nothing, and stopping again succeeds.
	assert.ErrorIs(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte("x")), actors.ErrClosed)
	_, err = client.Call(testkit.Ctx(t), sys.Root, pid, "q")
	assert.ErrorIs(t, err, actors.ErrClosed)
	assert.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, pid, nil))
	assert.Equal(t, int32(1), cp.nterm.Load())
}

func TestClientAPIOnServerConnection(t *testing.T) {
	sys := testkit.NewSystem(t)
	sp := newProbe()
	srv := testkit.StartServer(t, sys, "", newServed, sp)
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	sp.expect(t, "init")
	pid := connOf(t, srv).PID

	require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte("sync")))
	assert.Equal(t, "sync", string(testkit.ReadN(t, raw, 4)))
	client.SendAsync(sys.Root, pid, []byte("async"))
	assert.Equal(t, "async", string(testkit.ReadN(t, raw, 5)))

	v, err := client.Call(testkit.Ctx(t), sys.Root, pid, 7)
	require.NoError(t, err)
	assert.Equal(t, [2]any{"re", 7}, v)
	client.Cast(sys.Root, pid, "c")
	assert.Equal(t, "c", sp.expect(t, "cast").val)

	require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, pid, errBye))
	assert.ErrorIs(t, sp.terminated(t), errBye)
	requireEOF(t, raw, "")
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 0 }, testkit.Wait, time.Millisecond)
}

func TestSendSyncFramed(t *testing.T) {
	sys := testkit.NewSystem(t)
	sp := newProbe()
	srv := testkit.StartServer(t, sys, "", newServed, sp, actors.WithSocket(transport.WithFramer(transport.Line())))
	pid := testkit.Dial(t, sys, srv.Addr().String(), newServed, newProbe(), actors.WithSocket(transport.WithFramer(transport.Line())))
	sp.expect(t, "init")
	for _, s := range []string{"one", "two"} {
		require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte(s)))
	}
	assert.Equal(t, "one", sp.expect(t, "packet").val)
	assert.Equal(t, "two", sp.expect(t, "packet").val)
}

func TestDialErrors(t *testing.T) {
	sys := testkit.NewSystem(t)
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, err = testkit.TryDial(t, sys, addr, newServed, newProbe())
	assert.Error(t, err)

	_, err = client.Dial(testkit.Ctx(t), sys.Root, addr, newServed, nil, nil)
	assert.ErrorIs(t, err, client.ErrInvalidOptions)
	_, err = client.Dial(testkit.Ctx(t), sys.Root, addr, nil, nil)
	assert.ErrorIs(t, err, client.ErrInvalidOptions)
	_, err = client.Dial(testkit.Ctx(t), nil, addr, newServed, nil)
	assert.ErrorIs(t, err, client.ErrInvalidOptions)
}

func TestDialNamedAndAsChild(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	pid := testkit.Dial(t, sys, srv.Addr().String(), newServed, newProbe(), client.WithName("named-conn"))
	assert.Equal(t, "named-conn", pid.Id)

	// Spawned from an actor's context, the connection is that actor's child
	// and stops with it.
	cp := newProbe()
	got := make(chan *actor.PID, 1)
	parent, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Started); ok {
			pid, err := client.Dial(testkit.Ctx(t), ctx, srv.Addr().String(), newServed, cp, actors.WithLogger(testkit.Discard))
			if err == nil {
				got <- pid
			}
			close(got)
		}
	}), "parent")
	require.NoError(t, err)
	child, ok := <-got
	require.True(t, ok, "dial from an actor failed")
	cp.expect(t, "init")
	assert.Contains(t, child.Id, "parent/")
	require.NoError(t, sys.Root.StopFuture(parent).Wait())
	assert.ErrorIs(t, cp.terminated(t), actors.ErrShutdown)
}

// ender stops its connection on a cast, and answers calls.
type ender struct{ base }

func (h *ender) HandleCast(behaviours.Conn, any) behaviours.Result { return behaviours.Stop(nil) }

func (h *ender) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply(req)
}

// Requests that reach a connection while it ends are answered: with the
// reply, or an error wrapping actors.ErrClosed, never by a timeout.
func TestRequestsRacingTheEndAreAnswered(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	for range 20 {
		pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &ender{} }, newProbe())
		client.Cast(sys.Root, pid, "end")
		for i := range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			v, err := client.Call(ctx, sys.Root, pid, i)
			cancel()
			if err != nil {
				require.ErrorIs(t, err, actors.ErrClosed, "call %d", i)
				break
			}
			require.Equal(t, i, v)
		}
		require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, pid, nil))
	}
}
