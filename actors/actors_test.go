package actors_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/test/testkit"
)

func TestCallbackErrorInvalidResult(t *testing.T) {
	cause := fmt.Errorf("%w: Reply outside HandleCall", actors.ErrInvalidResult)
	err := error(&actors.CallbackError{Callback: "HandleCast", Cause: cause})
	assert.ErrorIs(t, err, actors.ErrInvalidResult)
	assert.NotErrorIs(t, err, actors.ErrCallbackPanic, "no stack: not a panic")
	assert.Equal(t, "etcp: HandleCast: etcp: invalid callback result: Reply outside HandleCall", err.Error())
}

func TestCallbackErrorPanicWithError(t *testing.T) {
	boom := errors.New("boom")
	err := error(&actors.CallbackError{Callback: "Init", Cause: boom, Stack: []byte("stack")})
	assert.ErrorIs(t, err, actors.ErrCallbackPanic)
	assert.ErrorIs(t, err, boom, "an error panic value is reachable")
	assert.Contains(t, err.Error(), "Init panicked: boom")
}

func TestTraceKindString(t *testing.T) {
	for k, want := range map[actors.TraceKind]string{
		actors.TracePacketIn: "packet-in", actors.TracePacketOut: "packet-out",
		actors.TraceMessageIn: "message-in", actors.TraceReplyOut: "reply-out",
		actors.TraceResult: "result", 42: "TraceKind(42)",
	} {
		assert.Equal(t, want, k.String())
	}
}

func TestTraceLogKeepsTheLastN(t *testing.T) {
	log := actors.NewTraceLog(2)
	assert.Empty(t, log.Events())
	for i := range 5 {
		log.Trace(actors.TraceEvent{Conn: uint64(i)})
	}
	evs := log.Events()
	require.Len(t, evs, 2)
	assert.Equal(t, uint64(3), evs[0].Conn)
	assert.Equal(t, uint64(4), evs[1].Conn)

	one := actors.NewTraceLog(0) // at least one
	one.Trace(actors.TraceEvent{Conn: 1})
	one.Trace(actors.TraceEvent{Conn: 2})
	require.Len(t, one.Events(), 1)
	assert.Equal(t, uint64(2), one.Events()[0].Conn)
}

func TestTraceLogConcurrent(t *testing.T) {
	log := actors.NewTraceLog(100)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				log.Trace(actors.TraceEvent{Kind: actors.TraceResult})
				_ = log.Events()
			}
		})
	}
	wg.Wait()
	assert.Len(t, log.Events(), 100)
}

func TestSlogTracer(t *testing.T) {
	var b strings.Builder
	l := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	actors.SlogTracer(l).Trace(actors.TraceEvent{Conn: 9, Kind: actors.TracePacketIn, Data: []byte("abc")})
	out := b.String()
	assert.Contains(t, out, "conn=9")
	assert.Contains(t, out, "kind=packet-in")
	assert.Contains(t, out, "bytes=3")
}

func TestRequestErrors(t *testing.T) {
	sys := testkit.NewSystem(t)
	ctx := context.Background()

	_, err := actors.Request(ctx, sys.Root, nil, &actors.Info{})
	assert.ErrorIs(t, err, actors.ErrClosed)

	_, err = actors.Request(ctx, sys.Root, actor.NewPID(sys.Address(), "nobody"), &actors.Info{})
	assert.ErrorIs(t, err, actors.ErrClosed, "a PID with no actor")

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = actors.Request(done, sys.Root, actor.NewPID(sys.Address(), "nobody"), &actors.Info{})
	assert.ErrorIs(t, err, context.Canceled)

	// An actor that never answers: the context's deadline bounds the wait.
	mute, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(actor.Context) {}), "mute")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sys.Root.StopFuture(mute).Wait() })
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	_, err = actors.Request(short, sys.Root, mute, &actors.Info{})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRequestReply(t *testing.T) {
	sys := testkit.NewSystem(t)
	boom := errors.New("boom")
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actors.Call:
			if m.Request == "fail" {
				ctx.Respond(&actors.Reply{Err: boom})
				return
			}
			ctx.Respond(&actors.Reply{Value: m.Request})
		}
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })

	v, err := actors.Request(context.Background(), sys.Root, pid, &actors.Call{Request: "hi"})
	require.NoError(t, err)
	assert.Equal(t, "hi", v)
	_, err = actors.Request(context.Background(), sys.Root, pid, &actors.Call{Request: "fail"})
	assert.ErrorIs(t, err, boom)
}
