// Package test holds the end-to-end suites of etcp, by theme like ranch's
// *_SUITE modules: callbacks, server, client and faults. Every test runs
// over real loopback sockets with one tiny handler per scenario; the
// handlers report what they see through a [probe] given as their init
// argument.
package test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// roundTrip writes msg and expects it back (from an echoing handler).
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	testkit.Write(t, c, msg)
	require.Equal(t, msg, string(testkit.ReadN(t, c, len(msg))))
}

// requireEOF asserts the peer closed c, after any bytes in want.
func requireEOF(t *testing.T, c net.Conn, want string) {
	t.Helper()
	got, err := io.ReadAll(c)
	require.NoError(t, err, "want EOF, got an error")
	require.Equal(t, want, string(got))
}

// requireReset asserts the peer reset c (after any bytes in want): a
// connection ending on an error must not look like a clean end.
func requireReset(t *testing.T, c net.Conn, want string) {
	t.Helper()
	got, err := io.ReadAll(c)
	require.ErrorIs(t, err, syscall.ECONNRESET, "want a reset, got %q and %v", got, err)
	require.Equal(t, want, string(got))
}

// requireSilent asserts nothing arrives on c within d.
func requireSilent(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n, "unexpected bytes")
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "want a read timeout, got %v", err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(testkit.Wait)))
}

// event is one thing a handler saw.
type event struct {
	kind string
	val  any
	at   time.Time
}

// probe collects what a scenario's handlers see. Handlers get it as
// their init argument (see base).
type probe struct {
	events chan event
	terms  chan error
	nterm  atomic.Int32
}

func newProbe() *probe {
	return &probe{events: make(chan event, 1024), terms: make(chan error, 64)}
}

func (p *probe) emit(kind string, v any) {
	p.events <- event{kind: kind, val: v, at: time.Now()}
}

// next returns the next event.
func (p *probe) next(t *testing.T) event {
	t.Helper()
	select {
	case ev := <-p.events:
		return ev
	case <-time.After(testkit.Wait):
		t.Fatal("no event")
		return event{}
	}
}

// expect returns the next event, which must be of kind.
func (p *probe) expect(t *testing.T, kind string) event {
	t.Helper()
	ev := p.next(t)
	require.Equal(t, kind, ev.kind, "event value %v", ev.val)
	return ev
}

// none asserts no event comes within d.
func (p *probe) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-p.events:
		t.Fatalf("unexpected event %q: %v", ev.kind, ev.val)
	case <-time.After(d):
	}
}

// terminated waits for one Terminate and returns its reason.
func (p *probe) terminated(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.terms:
		return err
	case <-time.After(testkit.Wait):
		t.Fatal("Terminate did not run")
		return nil
	}
}

// base is embedded by the scenario handlers: Init keeps the probe given as
// the init argument and reports it, Terminate reports its reason.
type base struct {
	behaviours.Base
	p *probe
}

func (h *base) bind(arg any) { h.p = arg.(*probe) }

func (h *base) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	h.p.emit("init", arg)
	return behaviours.Continue()
}

func (h *base) Terminate(_ behaviours.Conn, reason error) error {
	h.p.nterm.Add(1)
	h.p.terms <- reason
	return reason
}

// echo sends every packet back.
type echo struct{ base }

func (h *echo) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(bytes.Clone(p))
}

func newEcho() behaviours.Handler { return &echo{} }

// sink reports every packet it receives (a client-side handler).
type sink struct{ base }

func (h *sink) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.p.emit("packet", string(p))
	return behaviours.Continue()
}

func newSink() behaviours.Handler { return &sink{} }

// logCapture is a slog.Handler that keeps every record.
type logCapture struct {
	mu   *sync.Mutex
	recs *[]slog.Record
	ch   chan slog.Record
}

func newLogCapture() *logCapture {
	return &logCapture{mu: new(sync.Mutex), recs: new([]slog.Record), ch: make(chan slog.Record, 1024)}
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.recs = append(*h.recs, r.Clone())
	h.mu.Unlock()
	select {
	case h.ch <- r.Clone():
	default:
	}
	return nil
}

func (h *logCapture) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCapture) WithGroup(string) slog.Handler      { return h }

// attr returns the value of the record's attribute key.
func attr(r slog.Record, key string) (slog.Value, bool) {
	var v slog.Value
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v, found = a.Value, true
			return false
		}
		return true
	})
	return v, found
}
