package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// DefaultRequestTimeout bounds a request whose context has no deadline,
// as gen_server:call's default.
const DefaultRequestTimeout = 5 * time.Second

// Request sends msg to a connection (or acceptor) and waits for its
// *Reply, within ctx's deadline (or [DefaultRequestTimeout]). A PID with
// no live actor gives an error wrapping [ErrClosed].
func Request(ctx context.Context, s actor.SenderContext, pid *actor.PID, msg any) (any, error) {
	if pid == nil {
		return nil, fmt.Errorf("%w: nil PID", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := DefaultRequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	res, err := s.RequestFuture(pid, msg, timeout).Result()
	switch {
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, fmt.Errorf("%w: %s has no actor", ErrClosed, pid.Id)
	case errors.Is(err, actor.ErrTimeout):
		if ctx.Err() != nil {
			return nil, fmt.Errorf("etcp: request to %s: %w", pid.Id, ctx.Err())
		}
		return nil, fmt.Errorf("etcp: request to %s: %w", pid.Id, context.DeadlineExceeded)
	case err != nil:
		return nil, err
	}
	switch r := res.(type) {
	case *Reply:
		return r.Value, r.Err
	case *actor.DeadLetterResponse:
		return nil, fmt.Errorf("%w: %s has no actor", ErrClosed, pid.Id)
	default:
		return res, nil
	}
}
