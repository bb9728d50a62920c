package pool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/client"
)

// Sending through the pool: each send picks one live connection with the
// pool's [Strategy] from a snapshot the pool's actor replaces whenever a
// connection comes up or ends (one atomic load, no lock), then uses the
// client package's function on its PID. With no live connection a send
// fails with [ErrNoConnection], at once or after the wait set by
// [WithWaitForConnection]; it never blocks longer, and never drops data
// without an error. A connection that ended between the pick and the
// send answers with an error wrapping actors.ErrClosed.

// maxSendTries bounds how often SendSync tries another connection when
// the one it picked had already ended (actors.ErrClosed: nothing written).
const maxSendTries = 3

// Pick returns the PID of a live connection, chosen by the pool's
// [Strategy], for the client package's other functions (Event, State...).
// It waits for a connection as sends do.
func (p *Pool) Pick(ctx context.Context) (*actor.PID, error) {
	m, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return m.pid, nil
}

// SendSync writes b (framed) on one live connection and returns once it
// is written, or the error. If the picked connection had already ended
// (so nothing was written), it tries another, a few times at most.
func (p *Pool) SendSync(ctx context.Context, b []byte) error {
	var err error
	for range maxSendTries {
		var m *member
		if m, err = p.acquire(ctx); err != nil {
			return err
		}
		m.inflight.Add(1)
		err = client.SendSync(ctx, p.sys.Root, m.pid, b)
		m.inflight.Add(-1)
		if !errors.Is(err, actors.ErrClosed) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// SendAsync writes b on one live connection without waiting for the
// write (a write error ends that connection); b must not change
// afterwards. It fails only when no connection is live (it may wait for
// one, see [WithWaitForConnection]).
func (p *Pool) SendAsync(b []byte) error {
	m, err := p.acquire(context.Background())
	if err != nil {
		return err
	}
	client.SendAsync(p.sys.Root, m.pid, b)
	return nil
}

// Call makes a synchronous request to one live connection's HandleCall
// and returns its reply (a reply that is an error value is returned as
// the error). It is not retried on another connection: the request may
// have reached the handler.
func (p *Pool) Call(ctx context.Context, req any) (any, error) {
	m, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	m.inflight.Add(1)
	defer m.inflight.Add(-1)
	return client.Call(ctx, p.sys.Root, m.pid, req)
}

// Cast sends msg to one live connection's HandleCast. It fails only when
// no connection is live (it may wait for one, see [WithWaitForConnection]).
func (p *Pool) Cast(msg any) error {
	m, err := p.acquire(context.Background())
	if err != nil {
		return err
	}
	client.Cast(p.sys.Root, m.pid, msg)
	return nil
}

// acquire picks a live connection, waiting for one within the pool's
// WaitForConnection and ctx.
func (p *Pool) acquire(ctx context.Context) (*member, error) {
	if m := p.choose(); m != nil {
		return m, nil
	}
	var deadline <-chan time.Time
	for {
		ch, closed := p.watch()
		if closed {
			return nil, fmt.Errorf("%w: pool %s", ErrClosed, p.name)
		}
		if m := p.choose(); m != nil {
			return m, nil
		}
		wait := p.o.WaitForConnection
		if wait <= 0 {
			return nil, fmt.Errorf("%w: pool %s", ErrNoConnection, p.name)
		}
		if deadline == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ch:
		case <-deadline:
			return nil, fmt.Errorf("%w: pool %s: none came up within %v", ErrNoConnection, p.name, wait)
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: pool %s: %w", ErrNoConnection, p.name, ctx.Err())
		}
	}
}

// choose picks from the current snapshot; nil when it is empty.
func (p *Pool) choose() *member {
	s := p.snap.Load()
	if s == nil || len(*s) == 0 {
		return nil
	}
	live := *s
	n := uint64(len(live))
	switch p.o.Strategy {
	case Random:
		return live[rand.Uint64N(n)]
	case LeastBusy:
		start := p.rr.Add(1)
		best := live[start%n]
		for i := uint64(1); i < n && best.inflight.Load() > 0; i++ {
			if m := live[(start+i)%n]; m.inflight.Load() < best.inflight.Load() {
				best = m
			}
		}
		return best
	default:
		return live[(p.rr.Add(1)-1)%n]
	}
}
