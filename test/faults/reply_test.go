package faults_test

import (
	"context"
	"errors"
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

// Defect 9: a reply never precedes the write of the packets queued before
// it.
func TestReplyAfterItsPackets(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	big := make([]byte, 2<<20)
	p.call = func(behaviours.Conn, any, behaviours.From) behaviours.Result {
		return behaviours.Send(big).Reply("ok")
	}
	srv := testkit.StartServer(t, sys, "", newHandler, p,
		actors.WithSocket(transport.WithWriteTimeout(200*time.Millisecond), smallSocket()))
	peer := dialSmall(t, srv.Addr().String()) // never reads
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 1 }, testkit.Wait, tick)
	v, err := client.Call(testkit.Ctx(t), sys.Root, testkit.Conns(t, srv)[0].PID, "give")
	require.ErrorIs(t, err, actors.ErrWriteTimeout, "got %v", v)
	require.Nil(t, v)
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrWriteTimeout)
	requireReset(t, peer)
}

// Defect 10: Terminate can answer callers kept from earlier calls, with
// a value or an error.
func TestTerminateAnswersKeptCallers(t *testing.T) {
	errBye := errors.New("bye")
	sys := testkit.NewSystem(t)
	p := newProbe()
	kept := make(chan behaviours.From, 2)
	p.call = func(_ behaviours.Conn, _ any, from behaviours.From) behaviours.Result {
		kept <- from
		return behaviours.Continue() // no reply now
	}
	p.onTerm = func(c behaviours.Conn, _ error) {
		c.ReplyTo(<-kept, "so long")
		c.ReplyTo(<-kept, errBye)
	}
	srv := testkit.StartServer(t, sys, "", newHandler, p)
	peer := testkit.DialRaw(t, "tcp", srv.Addr().String())
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 1 }, testkit.Wait, tick)
	pid := testkit.Conns(t, srv)[0].PID

	type answer struct {
		v   any
		err error
	}
	var answers [2]chan answer
	for i := range answers {
		answers[i] = make(chan answer, 1)
		go func() {
			v, err := client.Call(testkit.Ctx(t), sys.Root, pid, i)
			answers[i] <- answer{v, err}
		}()
		require.Eventually(t, func() bool { return len(kept) == i+1 }, testkit.Wait, tick)
	}
	require.Never(t, func() bool { return len(answers[0])+len(answers[1]) > 0 }, 50*time.Millisecond, tick,
		"nobody answered yet")
	require.NoError(t, peer.Close()) // the peer goes: Terminate runs
	a := testkit.Recv(t, answers[0])
	require.NoError(t, a.err)
	require.Equal(t, "so long", a.v)
	a = testkit.Recv(t, answers[1])
	require.ErrorIs(t, a.err, errBye)
	require.Nil(t, a.v)
	p.awaitTerms(t, 1)
	p.requireOnce(t, 1)
}

// Defect 3: a request honours its context: cancelled, it returns at once
// with context.Canceled; with a deadline already passed, at once with
// context.DeadlineExceeded.
func TestCallHonoursContext(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	p.call = func(behaviours.Conn, any, behaviours.From) behaviours.Result { return behaviours.Continue() } // never replies
	srv := testkit.StartServer(t, sys, "", newHandler, p)
	dialled := testkit.Dial(t, sys, srv.Addr().String(), newHandler, p)
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 1 }, testkit.Wait, tick)
	for name, pid := range map[string]*actor.PID{"dialled": dialled, "accepted": testkit.Conns(t, srv)[0].PID} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var cancelled time.Time
			timer := time.AfterFunc(100*time.Millisecond, func() { cancelled = time.Now(); cancel() })
			defer timer.Stop()
			_, err := client.Call(ctx, sys.Root, pid, "hang")
			late := time.Since(cancelled)
			require.ErrorIs(t, err, context.Canceled)
			require.Less(t, late, 250*time.Millisecond, "returned %v after the cancel", late)

			past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel2()
			took := within(func() { _, err = client.Call(past, sys.Root, pid, "hang") })
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, took, 100*time.Millisecond)
			took = within(func() { err = client.SendSync(past, sys.Root, pid, []byte("x")) })
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, took, 100*time.Millisecond)
		})
	}
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "still serving")
}
