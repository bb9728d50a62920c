package main

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// records keeps every log record.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

// levels returns the levels of the records with message msg, and every
// record at warn or above.
func (r *records) levels(msg string) (of []slog.Level, loud []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Message == msg {
			of = append(of, rec.Level)
		}
		if rec.Level >= slog.LevelWarn {
			loud = append(loud, rec.Level.String()+" "+rec.Message)
		}
	}
	return of, loud
}

// lost is what protoactor logs when its stream to a peer ends.
const lost = "EndpointWriter lost connection"

// A normal etcpctl call ends with its node leaving: the managed node
// logs that at debug, nothing above. A peer killed mid-stream is still
// an error.
func TestLeavesLogged(t *testing.T) {
	if alone(t) {
		return
	}
	rec := &records{}
	m := startManagedLogging(t, slog.New(rec))
	node := m.node.Address()
	busy := dial(t, m.srv.Addr().String())

	assert.Contains(t, ctl(t, node, "hello"), "srv,spare")
	assert.Contains(t, ctl(t, node, "servers"), "srv")
	require.Eventually(t, func() bool { of, _ := rec.levels(lost); return len(of) > 0 }, 10*time.Second, 5*time.Millisecond,
		"the managed node saw no etcpctl leave")
	of, loud := rec.levels(lost)
	for _, l := range of {
		assert.Equal(t, slog.LevelDebug, l, "a normal leave")
	}
	assert.Empty(t, loud, "nothing above debug for a normal call")

	// kill -9 while a trace streams: a real loss, still an error.
	target := rows(t, ctl(t, node, "conns"))[0]["CONN"]
	tr := start(t, "-node", node, "trace", target)
	require.Eventually(t, func() bool { return strings.Contains(tr.stderr.String(), "tracing ") }, 10*time.Second, 5*time.Millisecond)
	busy.say(t, "traced") // the trace's events flow to the etcpctl node
	require.Eventually(t, func() bool { return strings.Contains(tr.stdout.String(), "traced") }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, tr.cmd.Process.Kill())
	<-tr.done
	require.Eventually(t, func() bool {
		of, _ = rec.levels(lost)
		return slices.Contains(of, slog.LevelError)
	}, 10*time.Second, 5*time.Millisecond, "a killed peer is an error")
}
