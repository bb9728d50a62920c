package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
)

// These functions work on any connection PID: one from Dial, or one
// listed by a server or a pool. sender is whatever sends: the actor
// system's Root, or an actor's context. Calls that wait take a context;
// without a deadline they wait at most actors.DefaultRequestTimeout. A PID
// with no live connection gives an error wrapping actors.ErrClosed.

// SendSync writes p (framed) on the connection and returns once it is
// written, or the write error. While the connection is over its high
// watermark (its peer reads slower than it is sent to) it waits for it to
// drain first, or fails with actors.ErrWriteBlocked (see
// actors.WriteQueue).
func SendSync(ctx context.Context, s actor.SenderContext, pid *actor.PID, p []byte) error {
	return actors.SendSync(ctx, s, pid, p)
}

// SendAsync writes p on the connection without waiting; a write error
// ends the connection. p must not be changed afterwards.
func SendAsync(s actor.SenderContext, pid *actor.PID, p []byte) {
	s.Send(pid, &actors.Send{Data: p})
}

// Call makes a synchronous request to the handler's HandleCall and
// returns its reply. A reply that is an error value is returned as the
// error.
func Call(ctx context.Context, s actor.SenderContext, pid *actor.PID, req any) (any, error) {
	return actors.Request(ctx, s, pid, &actors.Call{Request: req})
}

// Cast sends msg to the handler's HandleCast.
func Cast(s actor.SenderContext, pid *actor.PID, msg any) {
	s.Send(pid, &actors.Cast{Message: msg})
}

// Event sends ev to the handler's HandleEvent.
func Event(s actor.SenderContext, pid *actor.PID, ev any) {
	s.Send(pid, &actors.Event{Event: ev})
}

// Info sends msg to the handler's HandleInfo (any message that is not a
// call, cast or event goes there).
func Info(s actor.SenderContext, pid *actor.PID, msg any) { s.Send(pid, msg) }

// Stop ends the connection with reason (nil is normal) and returns once
// Terminate has run and the socket is closed. Stopping a connection that
// has already ended succeeds.
func Stop(ctx context.Context, s actor.SenderContext, pid *actor.PID, reason error) error {
	_, err := actors.Request(ctx, s, pid, &actors.Stop{Reason: reason})
	if errors.Is(err, actors.ErrClosed) {
		return nil
	}
	return err
}

// CodeChange asks the connection's handler to migrate its state.
func CodeChange(ctx context.Context, s actor.SenderContext, pid *actor.PID, oldVersion string, extra any) error {
	_, err := actors.Request(ctx, s, pid, &actors.CodeChange{OldVersion: oldVersion, Extra: extra})
	return err
}

// State returns the handler's state (Erlang's sys:get_state): its
// State() if it implements behaviours.StateReader, else the handler.
func State(ctx context.Context, s actor.SenderContext, pid *actor.PID) (any, error) {
	return actors.Request(ctx, s, pid, &actors.GetState{})
}

// Trace turns tracing of one connection on (a non-nil tracer) or off.
func Trace(ctx context.Context, s actor.SenderContext, pid *actor.PID, t actors.Tracer) error {
	_, err := actors.Request(ctx, s, pid, &actors.SetTrace{Tracer: t})
	return err
}

// Describe returns the connection's id, addresses and transport.
func Describe(ctx context.Context, s actor.SenderContext, pid *actor.PID) (actors.ConnInfo, error) {
	v, err := actors.Request(ctx, s, pid, &actors.Info{})
	if err != nil {
		return actors.ConnInfo{}, err
	}
	info, ok := v.(actors.ConnInfo)
	if !ok {
		return actors.ConnInfo{}, fmt.Errorf("etcp/client: unexpected reply %T", v)
	}
	return info, nil
}
