package client

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
)

var (
	// ErrNoCaller is the reason [Pending.Reply] stops a connection when a
	// response arrives and no call waits for it: the peer and the
	// handler no longer agree on which response answers which request.
	ErrNoCaller = errors.New("etcp/client: a response with no call waiting for it")
	// ErrReplyType is wrapped by [CallAs] and [As] when a reply is not
	// of the type asked for; the message names both types.
	ErrReplyType = errors.New("etcp/client: reply of another type")
)

// Pending is the FIFO of callers a handler of a request/response
// protocol keeps: HandleCall sends the request on the wire and adds its
// caller ([Pending.Add]); HandlePacket answers the oldest with the
// response that came ([Pending.Reply]); Terminate fails every caller
// still waiting ([Pending.Fail]), since their responses will not come.
// It suits protocols that answer requests in the order they were sent
// (Redis, SMTP, most line protocols), pipelined or not.
//
// A Pending is part of a handler's state: like the rest of it, it is used
// from the connection's callbacks only, one at a time, and needs no lock.
// The zero value is an empty FIFO.
type Pending struct {
	q    []behaviours.From
	head int // q[head:] wait, oldest first
}

// Add puts a caller (HandleCall's from) at the end of the FIFO.
func (p *Pending) Add(from behaviours.From) {
	if p.head > 0 && p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0 // empty: reuse the array from its start
	}
	p.q = append(p.q, from)
}

// Len is how many callers wait.
func (p *Pending) Len() int { return len(p.q) - p.head }

// Pop removes the oldest caller and returns it; false if none waits.
func (p *Pending) Pop() (behaviours.From, bool) {
	if p.Len() == 0 {
		return behaviours.From{}, false
	}
	from := p.q[p.head]
	p.q[p.head] = behaviours.From{} // let the PID go
	p.head++
	if p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0
	}
	return from, true
}

// Reply answers the oldest caller with v (an error value reaches it as
// its error), as a Result to return from the callback, or to chain more
// onto. With no caller waiting it stops the connection with
// [ErrNoCaller] instead.
func (p *Pending) Reply(v any) behaviours.Result {
	from, ok := p.Pop()
	if !ok {
		return behaviours.Stop(ErrNoCaller)
	}
	return behaviours.ReplyTo(from, v)
}

// Fail answers every waiting caller at once with an error wrapping
// actors.ErrClosed and reason (the connection's end reason, nil for a
// peer that closed), and empties the FIFO. Call it from Terminate, with
// Terminate's c and reason.
func (p *Pending) Fail(c behaviours.Conn, reason error) {
	err := fmt.Errorf("%w before the reply", actors.ErrClosed)
	if reason != nil {
		err = fmt.Errorf("%w before the reply: %w", actors.ErrClosed, reason)
	}
	for p.Len() > 0 {
		from, _ := p.Pop()
		c.ReplyTo(from, err)
	}
}

// CallAs is [Call] with the reply's type checked: the reply as an R, or
// an error wrapping [ErrReplyType] (see [As]).
//
//	s, err := client.CallAs[string](ctx, sys.Root, pid, "whoami")
func CallAs[R any, T Target](ctx context.Context, s actor.SenderContext, to T, req any) (R, error) {
	return As[R](Call(ctx, s, to, req))
}

// As converts what a call returned (from [Call], pool.Pool.Call or
// anything returning a reply and an error) to an R. An error is passed
// on, with R's zero value. A nil reply is R's zero value when R can be
// nil (an interface, pointer, slice, map, channel or function type); any
// other reply that is not an R gives an error wrapping [ErrReplyType].
//
//	n, err := client.As[int64](p.Call(ctx, command{"INCR", "hits"}))
func As[R any](v any, err error) (R, error) {
	var zero R
	if err != nil {
		return zero, err
	}
	if r, ok := v.(R); ok {
		return r, nil
	}
	t := reflect.TypeFor[R]()
	if v == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func:
			return zero, nil
		}
	}
	return zero, fmt.Errorf("%w: got %T, want %v", ErrReplyType, v, t)
}
