package testkit

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// LockedBuffer is a bytes.Buffer safe for concurrent writers, such as a
// logger's goroutines.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Run is the signature of an example's run function.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// StopWait bounds how long an example's run may take to return once its
// context ends.
const StopWait = 15 * time.Second

// Example is an example's run function running in the background.
type Example struct {
	Addr   string        // from run's first line, "listening ADDR"
	Stderr *LockedBuffer // what run wrote to stderr

	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
	err    error         // what run returned
}

// StartExample calls run with args in the background and waits for the
// first line it prints, "listening ADDR", through a pipe; the rest of
// its output is discarded. When the test ends, run's context ends and
// run is waited for (up to StopWait).
func StartExample(t testing.TB, run Run, args ...string) *Example {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Example{Stderr: new(LockedBuffer), cancel: cancel, done: make(chan struct{})}
	pr, pw := io.Pipe()
	go func() {
		defer close(e.done)
		e.err = run(ctx, args, pw, e.Stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-e.done:
		case <-time.After(StopWait):
		}
	})

	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "stderr: %s", e.Stderr.String())
	addr, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "listening ")
	require.True(t, ok, "first line %q", line)
	e.Addr = addr
	go io.Copy(io.Discard, pr) // anything else run prints
	return e
}

// Stop ends run's context and requires run to return nil within
// StopWait.
func (e *Example) Stop(t testing.TB) {
	t.Helper()
	e.cancel()
	select {
	case <-e.done:
		require.NoError(t, e.err)
	case <-time.After(StopWait):
		t.Fatal("run did not return after the context ended")
	}
}
