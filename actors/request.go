package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/internal/wirepb"
)

// DefaultRequestTimeout bounds a request whose context has no deadline,
// as gen_server:call's default.
const DefaultRequestTimeout = 5 * time.Second

// Request sends msg to a connection (or acceptor) and waits for its
// *Reply until ctx ends (at most [DefaultRequestTimeout] when ctx has no
// deadline). It returns as soon as ctx is cancelled or its deadline
// passes, with ctx's error in the chain. A PID with no live actor gives an
// error wrapping [ErrClosed].
func Request(ctx context.Context, s actor.SenderContext, pid *actor.PID, msg any) (any, error) {
	if pid == nil {
		return nil, fmt.Errorf("%w: nil PID", errConnClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("etcp: request to %s: %w", pid.Id, err)
	}
	if remote(s.ActorSystem(), pid) {
		wire, err := toWire(msg)
		if err != nil {
			return nil, err
		}
		msg = wire
	}
	w := newWaiter(s.ActorSystem())
	s.RequestWithCustomSender(pid, msg, w.pid)
	res, err := w.wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcp: request to %s: %w", pid.Id, err)
	}
	switch r := res.(type) {
	case *Reply:
		return r.Value, r.Err
	case *wirepb.Reply:
		return replyFromWire(r)
	case *actor.DeadLetterResponse:
		return nil, fmt.Errorf("%w: %s has no actor", errConnClosed, pid.Id)
	default:
		return res, nil
	}
}

// waiter is a one-shot reply address: a protoactor Process registered
// under its own PID whose first user message is handed to wait. Unlike
// protoactor's futures it waits on a context, so a request returns the
// moment its caller gives up, and it leaves no timer or goroutine behind.
type waiter struct {
	sys *actor.ActorSystem
	pid *actor.PID
	ch  chan any
}

var _ actor.Process = (*waiter)(nil)

func newWaiter(sys *actor.ActorSystem) *waiter {
	w := &waiter{sys: sys, ch: make(chan any, 1)}
	w.pid, _ = sys.ProcessRegistry.Add(w, "etcp-wait"+sys.ProcessRegistry.NextId())
	return w
}

func (w *waiter) SendUserMessage(_ *actor.PID, msg any) {
	select {
	case w.ch <- actor.UnwrapEnvelopeMessage(msg):
	default: // answered already
	}
}

func (*waiter) SendSystemMessage(*actor.PID, any) {}
func (*waiter) Stop(*actor.PID)                   {}

// errNoDeadline is the cause when DefaultRequestTimeout passes.
var errNoDeadline = errors.New("etcp: no reply within the default request timeout")

// wait returns the first message sent to w, or ctx's error once it ends.
func (w *waiter) wait(ctx context.Context) (any, error) {
	defer w.sys.ProcessRegistry.Remove(w.pid)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, DefaultRequestTimeout, errNoDeadline)
		defer cancel()
	}
	select {
	case m := <-w.ch:
		return m, nil
	case <-ctx.Done():
		if cause := context.Cause(ctx); cause == errNoDeadline {
			return nil, fmt.Errorf("%w (%v)", context.DeadlineExceeded, cause)
		}
		return nil, ctx.Err()
	}
}
