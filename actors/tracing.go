package actors

import (
	"fmt"
	"time"

	"github.com/etcp-go/etcp/behaviours"
)

// Trace helpers: called only when a Tracer is set.

func (c *conn) trace(ev TraceEvent) {
	ev.Time, ev.Conn = time.Now(), c.id
	c.tracer.Trace(ev)
}

func (c *conn) traceBytes(k TraceKind, p []byte) {
	c.trace(TraceEvent{Kind: k, Data: append([]byte(nil), p...)})
}

func (c *conn) traceMessage(msg any) {
	c.trace(TraceEvent{Kind: TraceMessageIn, Message: msg})
}

func (c *conn) traceResult(cb callback, r *behaviours.Result) {
	c.trace(TraceEvent{Kind: TraceResult, Callback: cb.String(), Message: describe(r)})
}

// describe summarises a Result for a trace.
func describe(r *behaviours.Result) string {
	s := ""
	n := 0
	_ = r.Packets(func([]byte) error { n++; return nil })
	if n > 0 {
		s += fmt.Sprintf("send(%d) ", n)
	}
	if _, ok := r.ReplyValue(); ok {
		s += "reply "
	}
	if d, ok := r.TimeoutValue(); ok {
		s += fmt.Sprintf("timeout(%v) ", d)
	}
	if r.Hibernating() {
		s += "hibernate "
	}
	if r.Closing() {
		s += "close "
	}
	if reason, ok := r.StopReason(); ok {
		s += fmt.Sprintf("stop(%v) ", reason)
	}
	if n, d, ok := r.RecvRequest(); ok {
		s += fmt.Sprintf("recv(%d,%v) ", n, d)
	}
	if s == "" {
		return "continue"
	}
	return s[:len(s)-1]
}
