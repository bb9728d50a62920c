package manage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// Tracing through the endpoint. A connection traced here gets one Tracer
// of the endpoint's (client.Trace): it keeps the last traceKeep events
// for Inspect and sends each to the streams subscribed to it. Tracing
// stays on while a stream is subscribed or it was turned on without one
// (pinned); a watcher, running while anything is traced, ends the streams
// of connections that ended and turns tracing off when nothing wants it.
// Turning tracing on through the endpoint replaces a tracer the
// application gave the connection, and turning it off leaves none.

const (
	traceKeep    = 64                     // events kept per traced connection
	traceDataMax = 256                    // bytes of a packet a trace event carries
	traceWatch   = 200 * time.Millisecond // how often the watcher looks
)

// traced is one connection traced by the endpoint; it is its Tracer.
type traced struct {
	root *actor.RootContext
	pid  *actor.PID
	log  *actors.TraceLog

	mu     sync.Mutex
	pinned bool
	subs   map[string]*subscriber // by address/id
}

type subscriber struct {
	pid       *actor.PID
	max, sent uint32
}

func subKey(pid *actor.PID) string { return pid.Address + "/" + pid.Id }

// Trace records ev and streams it (the connection's goroutine).
func (t *traced) Trace(ev actors.TraceEvent) {
	t.log.Trace(ev)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.subs) == 0 {
		return
	}
	pe := tracePB(&ev)
	for k, s := range t.subs {
		t.root.Send(s.pid, pe)
		s.sent++
		if s.max > 0 && s.sent >= s.max {
			delete(t.subs, k)
			t.root.Send(s.pid, &managepb.End{Reason: fmt.Sprintf("%d events", s.max)})
		}
	}
}

// endAll ends every stream with reason (t.mu held).
func (t *traced) endAll(reason string) {
	for k, s := range t.subs {
		t.root.Send(s.pid, &managepb.End{Reason: reason})
		delete(t.subs, k)
	}
}

// wanted reports whether anything still wants the trace (t.mu held).
func (t *traced) wanted() bool { return t.pinned || len(t.subs) > 0 }

func tracePB(ev *actors.TraceEvent) *managepb.TraceEvent {
	pe := &managepb.TraceEvent{TimeUnixNano: unixOf(ev.Time), Conn: ev.Conn, Kind: ev.Kind.String(),
		Callback: ev.Callback, DataLen: uint32(len(ev.Data))}
	if ev.Data != nil {
		pe.Data = ev.Data[:min(len(ev.Data), traceDataMax)]
	}
	if ev.Message != nil {
		pe.Message = fmt.Sprintf("%+v", ev.Message)
	}
	return pe
}

func (e *Endpoint) traceOf(id string) *traced {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.traces[id]
}

func (e *Endpoint) traceConn(ctx context.Context, m *managepb.TraceConn) (*managepb.Ok, error) {
	pid, _, _, err := e.resolve(m.Conn)
	if err != nil {
		return nil, err
	}
	var sub *actor.PID
	if m.SubscriberAddress != "" || m.SubscriberId != "" {
		if m.SubscriberAddress == "" || m.SubscriberId == "" {
			return nil, fmt.Errorf("%w: a subscriber needs an address and an id", ErrInvalid)
		}
		sub = e.pidOf(m.SubscriberAddress, m.SubscriberId)
	}
	if !m.On {
		e.untrace(ctx, pid, sub)
		return &managepb.Ok{}, nil
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: the endpoint is closing", ErrFailed)
	}
	t := e.traces[pid.Id]
	created := t == nil
	if created {
		t = &traced{root: e.sys.Root, pid: pid, log: actors.NewTraceLog(traceKeep), subs: map[string]*subscriber{}}
		e.traces[pid.Id] = t
	}
	t.mu.Lock()
	if sub != nil {
		t.subs[subKey(sub)] = &subscriber{pid: sub, max: m.MaxEvents}
	} else {
		t.pinned = true
	}
	t.mu.Unlock()
	if !e.watchOn {
		e.watchOn = true
		e.wg.Add(1)
		go e.watch()
	}
	e.mu.Unlock()
	if created {
		if err := client.Trace(ctx, e.sys.Root, pid, t); err != nil {
			e.mu.Lock()
			delete(e.traces, pid.Id)
			e.mu.Unlock()
			t.mu.Lock()
			t.endAll("the connection could not be traced")
			t.mu.Unlock()
			return nil, connErr(err)
		}
	}
	return &managepb.Ok{}, nil
}

// untrace ends one stream (sub), or every stream and the pin (sub nil);
// tracing goes off when nothing wants it any more.
func (e *Endpoint) untrace(ctx context.Context, pid *actor.PID, sub *actor.PID) {
	e.mu.Lock()
	t := e.traces[pid.Id]
	if t == nil {
		e.mu.Unlock()
		return
	}
	t.mu.Lock()
	if sub != nil {
		if s, ok := t.subs[subKey(sub)]; ok {
			delete(t.subs, subKey(sub))
			e.sys.Root.Send(s.pid, &managepb.End{Reason: "stopped"})
		}
	} else {
		t.pinned = false
		t.endAll("tracing turned off")
	}
	off := !t.wanted()
	t.mu.Unlock()
	if off {
		delete(e.traces, pid.Id)
	}
	e.mu.Unlock()
	if off {
		_ = client.Trace(ctx, e.sys.Root, pid, nil)
	}
}

// watch ends the streams of connections that ended, and turns off
// tracing nothing wants, while anything is traced.
func (e *Endpoint) watch() {
	defer e.wg.Done()
	tick := time.NewTicker(traceWatch)
	defer tick.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-tick.C:
		}
		var off []*actor.PID
		e.mu.Lock()
		for id, t := range e.traces {
			_, live := actors.ConnStatsOf(e.sys, t.pid)
			t.mu.Lock()
			if !live {
				t.endAll("the connection ended")
			}
			wanted := t.wanted()
			t.mu.Unlock()
			switch {
			case !live:
				delete(e.traces, id)
			case !wanted:
				delete(e.traces, id)
				off = append(off, t.pid)
			}
		}
		done := len(e.traces) == 0
		if done {
			e.watchOn = false
		}
		e.mu.Unlock()
		for _, pid := range off {
			_ = host.Tell(e.sys.Root, pid, &actors.SetTrace{})
		}
		if done {
			return
		}
	}
}

// dropAddress forgets the streams of a node that went away.
func (e *Endpoint) dropAddress(addr string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.traces {
		t.mu.Lock()
		for k, s := range t.subs {
			if s.pid.Address == addr {
				delete(t.subs, k)
			}
		}
		t.mu.Unlock()
	}
}

// endTraces ends every stream and turns off the tracing the endpoint
// turned on (at Close).
func (e *Endpoint) endTraces() {
	e.mu.Lock()
	ts := e.traces
	e.traces = map[string]*traced{}
	e.mu.Unlock()
	for _, t := range ts {
		t.mu.Lock()
		t.pinned = false
		t.endAll("the endpoint closed")
		t.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = client.Trace(ctx, e.sys.Root, t.pid, nil)
		cancel()
	}
}
