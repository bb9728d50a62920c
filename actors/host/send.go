package host

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/internal/hostapi"
)

// Tell sends msg (an actors.Cast, Event, Send, or any message for
// HandleInfo) to a connection without waiting, in its wire form when the
// connection is on another node; a local connection's mailbox limit and
// write queue are checked as it is posted.
func Tell(s actor.SenderContext, pid *actor.PID, msg any) error { return hostapi.Tell(s, pid, msg) }

// SendSync writes p on the connection pid and returns once its socket has
// taken it (or the write failed). While the connection is over its high
// watermark it first waits for its queue to drain (or fails with
// actors.ErrWriteBlocked, WriteQueue.FailFast); waiting, like the
// request, ends with ctx. A PID with no live connection gives an error
// wrapping actors.ErrClosed.
func SendSync(ctx context.Context, s actor.SenderContext, pid *actor.PID, p []byte) error {
	return hostapi.SendSync(ctx, s, pid, p)
}

// ForceClose shuts down the socket of the connection pid of sys at once,
// reporting false if pid is not a live connection of this process or has
// no actor (a passivated connection is in no callback). Its owner calls
// it when a stop it asked for did not finish in time.
func ForceClose(sys *actor.ActorSystem, pid *actor.PID) bool { return hostapi.ForceClose(sys, pid) }
