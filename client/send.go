package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/registry"
)

// These functions work on any connection: a PID from Dial, or one listed
// by a server or a pool, or the Name it is registered under, on this
// node or another (protoactor remote): to another node, payloads travel
// as protobuf (a protobuf message, or a string or []byte, which arrive as
// such), and actors.ErrNotWire reports any other. sender is
// whatever sends: the actor system's Root, or an actor's context. Calls
// that wait take a context and return as soon as it ends; without a
// deadline they wait at most actors.DefaultRequestTimeout. A PID with no
// live connection gives an error wrapping actors.ErrClosed, a Name that
// is not registered one wrapping registry.ErrNotFound.

// Name is a name a connection is registered under (by its handler's
// Conn.Register, or its client's WithName) in the sender's actor
// system's registry (registry.Of): a cluster registry set with
// registry.SetDefault finds names of every node. It is looked up at
// each call.
type Name string

// Target is a connection: its PID, or its Name.
type Target interface{ *actor.PID | Name }

// resolve finds the connection to.
func resolve[T Target](s actor.SenderContext, to T) (*actor.PID, error) {
	switch v := any(to).(type) {
	case *actor.PID:
		return v, nil
	case Name:
		e, err := registry.Of(s.ActorSystem()).Lookup(string(v))
		if err != nil {
			// The registry's error has its prefix: name v once, after it.
			if strings.Contains(err.Error(), strconv.Quote(string(v))) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %q", err, string(v))
		}
		return e.PID, nil
	}
	return nil, errors.New("etcp/client: unknown target") // unreachable: Target has two types
}

// SendSync writes p (framed) on the connection and returns once it is
// written, or the write error. While the connection is over its high
// watermark (its peer reads slower than it is sent to) it waits for it to
// drain first, or fails with actors.ErrWriteBlocked (see
// actors.WriteQueue).
func SendSync[T Target](ctx context.Context, s actor.SenderContext, to T, p []byte) error {
	pid, err := resolve(s, to)
	if err != nil {
		return err
	}
	return host.SendSync(ctx, s, pid, p)
}

// SendAsync writes p on the connection without waiting; a write error
// ends the connection. p must not be changed afterwards. The error is a
// Name's lookup's, or a payload that cannot reach another node.
func SendAsync[T Target](s actor.SenderContext, to T, p []byte) error {
	pid, err := resolve(s, to)
	if err != nil {
		return err
	}
	return host.Tell(s, pid, &actors.Send{Data: p})
}

// Call makes a synchronous request to the handler's HandleCall and
// returns its reply. A reply that is an error value is returned as the
// error.
func Call[T Target](ctx context.Context, s actor.SenderContext, to T, req any) (any, error) {
	pid, err := resolve(s, to)
	if err != nil {
		return nil, err
	}
	return actors.Request(ctx, s, pid, &actors.Call{Request: req})
}

// Cast sends msg to the handler's HandleCast. The error is only a Name's
// lookup's.
func Cast[T Target](s actor.SenderContext, to T, msg any) error {
	pid, err := resolve(s, to)
	if err != nil {
		return err
	}
	return host.Tell(s, pid, &actors.Cast{Message: msg})
}

// Event sends ev to the handler's HandleEvent. The error is only a
// Name's lookup's.
func Event[T Target](s actor.SenderContext, to T, ev any) error {
	pid, err := resolve(s, to)
	if err != nil {
		return err
	}
	return host.Tell(s, pid, &actors.Event{Event: ev})
}

// Info sends msg to the handler's HandleInfo (any message that is not a
// call, cast or event goes there); to another node, a string or []byte
// arrives as such, as for Cast and Event. The error is a Name's lookup's,
// or actors.ErrNotWire for a payload that cannot reach another node.
func Info[T Target](s actor.SenderContext, to T, msg any) error {
	pid, err := resolve(s, to)
	if err != nil {
		return err
	}
	return host.Tell(s, pid, msg)
}

// Stop ends the connection with reason (nil is normal) and returns once
// Terminate has run and the socket is closed. Stopping a connection that
// has already ended succeeds. If ctx ends first (the connection is
// blocked, or its handler is in a callback that does not return), Stop
// returns ctx's error and, for a connection of this process, interrupts
// and shuts down its socket at once (host.ForceClose): the peer sees
// the connection end, and Terminate runs when the callback returns.
func Stop[T Target](ctx context.Context, s actor.SenderContext, to T, reason error) error {
	pid, err := resolve(s, to)
	if err != nil {
		return err
	}
	asked := ctx.Err() == nil // the Stop is sent
	_, err = actors.Request(ctx, s, pid, &actors.Stop{Reason: reason})
	if errors.Is(err, actors.ErrClosed) {
		return nil
	}
	if asked && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		host.ForceClose(s.ActorSystem(), pid)
	}
	return err
}

// CodeChange asks the connection's handler to migrate its state.
func CodeChange[T Target](ctx context.Context, s actor.SenderContext, to T, oldVersion string, extra any) error {
	pid, err := resolve(s, to)
	if err != nil {
		return err
	}
	_, err = actors.Request(ctx, s, pid, &actors.CodeChange{OldVersion: oldVersion, Extra: extra})
	return err
}

// State returns the handler's state (Erlang's sys:get_state): its
// State() if it implements behaviours.StateReader, else the handler.
func State[T Target](ctx context.Context, s actor.SenderContext, to T) (any, error) {
	pid, err := resolve(s, to)
	if err != nil {
		return nil, err
	}
	return actors.Request(ctx, s, pid, &actors.GetState{})
}

// Trace turns tracing of one connection on (a non-nil tracer) or off.
func Trace[T Target](ctx context.Context, s actor.SenderContext, to T, t actors.Tracer) error {
	pid, err := resolve(s, to)
	if err != nil {
		return err
	}
	_, err = actors.Request(ctx, s, pid, &actors.SetTrace{Tracer: t})
	return err
}

// Describe returns the connection's id, addresses and transport.
func Describe[T Target](ctx context.Context, s actor.SenderContext, to T) (actors.ConnInfo, error) {
	pid, err := resolve(s, to)
	if err != nil {
		return actors.ConnInfo{}, err
	}
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
