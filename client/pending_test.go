package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

var lines = actors.WithSocket(transport.WithFramer(transport.Line()))

// requester is a client handler of a line protocol: each call is a line
// out, each line in answers the oldest call. Its Terminate hands its
// reason to ended, if set.
type requester struct {
	behaviours.Base
	pending client.Pending
	ended   chan error
}

func (r *requester) HandleCall(_ behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	r.pending.Add(from)
	return behaviours.Send([]byte(req.(string)))
}

func (r *requester) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return r.pending.Reply(string(p))
}

func (r *requester) Terminate(c behaviours.Conn, reason error) error {
	r.pending.Fail(c, reason)
	if r.ended != nil {
		r.ended <- reason
	}
	return reason
}

// batcher is a server handler that answers nothing until it has n lines,
// then answers all of them at once, in order ("re:" and the line), so
// that n calls are in flight together; with close it closes instead of
// answering. Each line it gets is announced on got, if set.
type batcher struct {
	behaviours.Base
	n     int
	close bool
	got   chan<- string
	lines []string
}

func (b *batcher) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	b.lines = append(b.lines, string(p))
	if b.got != nil {
		b.got <- string(p)
	}
	if len(b.lines) < b.n {
		return behaviours.Result{}
	}
	if b.close {
		return behaviours.Close()
	}
	var r behaviours.Result
	for _, l := range b.lines {
		r = r.Send([]byte("re:" + l))
	}
	b.lines = nil
	return r
}

type env struct {
	sys *actor.ActorSystem
	ctx context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// A short dead-letter throttle: its goroutine ends before goleak looks.
	sys := actors.NewSystem(nil, actor.WithDeadLetterThrottleInterval(time.Millisecond))
	t.Cleanup(sys.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return &env{sys, ctx}
}

func (e *env) serve(t *testing.T, h func() behaviours.Handler) string {
	t.Helper()
	srv, err := server.Start(e.sys, h, nil, "127.0.0.1:0", server.WithAcceptors(1), lines)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Stop(context.Background(), nil)) })
	return srv.Addr().String()
}

func (e *env) dial(t *testing.T, addr string, r *requester) *actor.PID {
	t.Helper()
	pid, err := client.Dial(e.ctx, e.sys.Root, addr, func() behaviours.Handler { return r }, nil, lines)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Stop(context.Background(), e.sys.Root, pid, nil) })
	return pid
}

// callAll makes n calls at once, "req-0" to "req-(n-1)", and returns each
// one's reply and error.
func (e *env) callAll(pid *actor.PID, n int) ([]string, []error) {
	replies, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			replies[i], errs[i] = client.CallAs[string](e.ctx, e.sys.Root, pid, fmt.Sprintf("req-%d", i))
		})
	}
	wg.Wait()
	return replies, errs
}

// Twenty calls in flight at once, answered by the server in one burst:
// each caller gets the response to its own request.
func TestPendingAnswersInOrder(t *testing.T) {
	e := newEnv(t)
	const n = 20
	addr := e.serve(t, func() behaviours.Handler { return &batcher{n: n} })
	r := &requester{}
	pid := e.dial(t, addr, r)
	for range 2 { // the FIFO empties and fills again
		replies, errs := e.callAll(pid, n)
		for i := range n {
			assert.NoError(t, errs[i])
			assert.Equal(t, fmt.Sprintf("re:req-%d", i), replies[i])
		}
	}
}

// Every caller still waiting when the connection ends gets an error with
// the end reason: a stop with a reason, and a peer that closes.
func TestPendingFailsEveryWaiter(t *testing.T) {
	const n = 5
	for _, tc := range []struct {
		name   string
		close  bool  // the server closes once it has n lines
		reason error // else the client is stopped with this reason
	}{
		{name: "stopped", reason: errors.New("operator says no")},
		{name: "peer closed", close: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			got := make(chan string, n)
			batch := n + 1 // never reached: the server answers nothing
			if tc.close {
				batch = n // then closes
			}
			addr := e.serve(t, func() behaviours.Handler { return &batcher{n: batch, close: tc.close, got: got} })
			r := &requester{ended: make(chan error, 1)}
			pid := e.dial(t, addr, r)
			var errs []error
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, errs = e.callAll(pid, n)
			}()
			for range n { // every request is on the wire: its caller waits
				<-got
			}
			if !tc.close {
				require.NoError(t, client.Stop(e.ctx, e.sys.Root, pid, tc.reason))
			}
			<-done
			for i, err := range errs {
				assert.ErrorIs(t, err, actors.ErrClosed, "call %d", i)
				if tc.reason != nil {
					assert.ErrorIs(t, err, tc.reason, "call %d", i)
				}
				assert.ErrorContains(t, err, "before the reply", "call %d", i)
			}
			assert.Equal(t, 0, r.pending.Len())
		})
	}
}

// A line nobody asked for: the handler and its peer are out of step, and
// the connection stops with ErrNoCaller.
func TestPendingNoCaller(t *testing.T) {
	e := newEnv(t)
	addr := e.serve(t, func() behaviours.Handler { return &chatty{} })
	r := &requester{ended: make(chan error, 1)}
	e.dial(t, addr, r)
	select {
	case reason := <-r.ended:
		assert.ErrorIs(t, reason, client.ErrNoCaller)
	case <-e.ctx.Done():
		t.Fatal("the connection did not end")
	}
}

// chatty greets before anyone asked.
type chatty struct{ behaviours.Base }

func (chatty) Init(behaviours.Conn, any) behaviours.Result { return behaviours.Send([]byte("hello")) }

func TestPendingFIFO(t *testing.T) {
	var p client.Pending
	from := func(id string) behaviours.From { return behaviours.NewFrom(actor.NewPID("local", id)) }
	_, ok := p.Pop()
	assert.False(t, ok, "the zero value is empty")
	p.Add(from("a"))
	p.Add(from("b"))
	p.Add(from("c"))
	f, _ := p.Pop()
	assert.Equal(t, "a", f.PID().Id)
	p.Add(from("d"))
	assert.Equal(t, 3, p.Len())
	for _, want := range []string{"b", "c", "d"} {
		f, ok := p.Pop()
		require.True(t, ok)
		assert.Equal(t, want, f.PID().Id)
	}
	_, ok = p.Pop()
	assert.False(t, ok)
	assert.Equal(t, 0, p.Len())
	p.Add(from("e")) // after emptying
	f, _ = p.Pop()
	assert.Equal(t, "e", f.PID().Id)
}

func TestAs(t *testing.T) {
	s, err := client.As[string]("x", nil)
	assert.Equal(t, "x", s)
	assert.NoError(t, err)

	n, err := client.As[int]("x", nil)
	assert.ErrorIs(t, err, client.ErrReplyType)
	assert.EqualError(t, err, "etcp/client: reply of another type: got string, want int")
	assert.Zero(t, n)

	failed := errors.New("failed")
	_, err = client.As[string]("ignored", failed)
	assert.Same(t, failed, err, "an error is passed on as it is")

	b, err := client.As[[]byte](nil, nil)
	assert.NoError(t, err, "a nil reply is a nil slice")
	assert.Nil(t, b)
	e, err := client.As[error](nil, nil)
	assert.NoError(t, err, "a nil reply is a nil interface")
	assert.Nil(t, e)
	_, err = client.As[string](nil, nil)
	assert.EqualError(t, err, "etcp/client: reply of another type: got <nil>, want string")
	_, err = client.As[fmt.Stringer](42, nil)
	assert.ErrorContains(t, err, "got int, want fmt.Stringer")
}

// CallAs over a socket: a reply of the wrong type is an error that names
// both types, and the connection carries on.
func TestCallAsMismatch(t *testing.T) {
	e := newEnv(t)
	addr := e.serve(t, func() behaviours.Handler { return &batcher{n: 1} })
	pid := e.dial(t, addr, &requester{})
	n, err := client.CallAs[int](e.ctx, e.sys.Root, pid, "one")
	assert.ErrorIs(t, err, client.ErrReplyType)
	assert.True(t, strings.HasSuffix(err.Error(), "got string, want int"), err.Error())
	assert.Zero(t, n)
	s, err := client.CallAs[string](e.ctx, e.sys.Root, pid, "two")
	assert.NoError(t, err)
	assert.Equal(t, "re:two", s)
}
