package actors

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// TraceKind says what a [TraceEvent] records.
type TraceKind uint8

// The kinds of traced events, as Erlang's sys debug records them.
const (
	TracePacketIn  TraceKind = iota + 1 // a frame was read
	TracePacketOut                      // a packet was written
	TraceMessageIn                      // a message reached the actor
	TraceReplyOut                       // a reply was sent
	TraceResult                         // a callback returned
)

var traceKindNames = [...]string{"", "packet-in", "packet-out", "message-in", "reply-out", "result"}

// String names the kind ("packet-in", "result"...).
func (k TraceKind) String() string {
	if int(k) < len(traceKindNames) {
		return traceKindNames[k]
	}
	return fmt.Sprintf("TraceKind(%d)", k)
}

// TraceEvent is one traced event of one connection.
type TraceEvent struct {
	Time     time.Time // when it happened
	Conn     uint64    // the connection's id
	Kind     TraceKind // what happened
	Callback string    // for TraceResult
	Data     []byte    // a copy of the packet, for packet events
	Message  any       // the message, reply or result summary
}

// Tracer receives the trace events of the connections it is given to. It
// is called from the connection's goroutine, so one Tracer shared by many
// connections must be safe for concurrent use.
type Tracer interface {
	// Trace records one event.
	Trace(TraceEvent)
}

// TracerFunc adapts a function to [Tracer].
type TracerFunc func(TraceEvent)

// Trace calls f.
func (f TracerFunc) Trace(ev TraceEvent) { f(ev) }

// SlogTracer logs every event at debug level.
func SlogTracer(l *slog.Logger) Tracer {
	return TracerFunc(func(ev TraceEvent) {
		l.Debug("etcp trace", "conn", ev.Conn, "kind", ev.Kind.String(),
			"callback", ev.Callback, "bytes", len(ev.Data), "message", ev.Message)
	})
}

// TraceLog keeps the last N events in memory (Erlang's sys:log). It is
// safe for concurrent use.
type TraceLog struct {
	mu     sync.Mutex
	events []TraceEvent
	next   int
	full   bool
}

// NewTraceLog keeps the last n events (n < 1 means 1).
func NewTraceLog(n int) *TraceLog { return &TraceLog{events: make([]TraceEvent, max(n, 1))} }

// Trace records ev.
func (l *TraceLog) Trace(ev TraceEvent) {
	l.mu.Lock()
	l.events[l.next] = ev
	l.next = (l.next + 1) % len(l.events)
	l.full = l.full || l.next == 0
	l.mu.Unlock()
}

// Events returns the recorded events, oldest first.
func (l *TraceLog) Events() []TraceEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]TraceEvent(nil), l.events[:l.next]...)
	}
	return append(append([]TraceEvent(nil), l.events[l.next:]...), l.events[:l.next]...)
}
