package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/test/testkit"
)

// The dead-letter throttle of protoactor's actor system (one second by
// default, as the example runs it) may still be counting down when the
// tests end: a replied request whose caller has gone is a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// modes are the ways the echo serves its connections: a goroutine each,
// or two event loops.
var modes = map[string][]string{"goroutines": nil, "event-loops": {"-event-loops", "2"}}

func TestRunEchoes(t *testing.T) {
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) { testRunEchoes(t, mode) })
	}
}

func testRunEchoes(t *testing.T, mode []string) {
	const (
		clients = 50
		size    = 64
		period  = 2 * time.Second
	)
	ex := testkit.StartExample(t, run, append([]string{"-addr", "127.0.0.1:0", "-grace", "100ms"}, mode...)...)

	// The clients stay connected until run returns: stopping the server
	// must close them once the grace has passed.
	var wg sync.WaitGroup
	conns := make([]net.Conn, clients)
	errs := make([]error, clients)
	counts := make([]int, clients)
	deadline := time.Now().Add(period)
	for i := range clients {
		wg.Go(func() { conns[i], errs[i] = exchange(ex.Addr, deadline, size, &counts[i]) })
	}
	wg.Wait()
	for i := range clients {
		if conns[i] != nil {
			defer conns[i].Close()
		}
		require.NoError(t, errs[i], "client %d", i)
		assert.Positive(t, counts[i], "client %d exchanged nothing", i)
	}

	ex.Stop(t)
	for i, c := range conns {
		n, err := c.Read(make([]byte, 1))
		assert.Zero(t, n)
		assert.ErrorIs(t, err, io.EOF, "client %d: the stopped server closed the connection", i)
	}
	assert.NotContains(t, ex.Stderr.String(), "level=ERROR")
}

// exchange sends random messages of size bytes until deadline, checking
// every echoed byte, and counts the round trips. It returns the
// connection, still open.
func exchange(addr string, deadline time.Time, size int, n *int) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(deadline.Add(20 * time.Second)); err != nil {
		return c, err
	}
	out, in := make([]byte, size), make([]byte, size)
	for time.Now().Before(deadline) {
		rand.Read(out)
		if _, err := c.Write(out); err != nil {
			return c, err
		}
		if _, err := io.ReadFull(c, in); err != nil {
			return c, err
		}
		if !bytes.Equal(out, in) {
			return c, errMismatch{out, in}
		}
		*n++
	}
	return c, nil
}

type errMismatch struct{ sent, got []byte }

func (e errMismatch) Error() string {
	return fmt.Sprintf("echo mismatch: sent %x, got %x", e.sent, e.got)
}

// A peer that sends a lot and never reads blocks its connection's write:
// the signal still stops the server within the grace plus the stop
// grace, and run returns nil.
func TestStopWithPeerNotReading(t *testing.T) {
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) { testStopWithPeerNotReading(t, mode) })
	}
}

func testStopWithPeerNotReading(t *testing.T, mode []string) {
	ex := testkit.StartExample(t, run, append([]string{"-addr", "127.0.0.1:0", "-grace", "200ms"}, mode...)...)
	c, err := net.Dial("tcp", ex.Addr)
	require.NoError(t, err)
	defer c.Close()
	sent := make(chan struct{})
	go func() { // 64 MB, never reading the echo: the server's write blocks
		defer close(sent)
		_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, _ = c.Write(make([]byte, 64<<20))
	}()
	// The server's write is blocked once both directions' buffers are full:
	// then the peer's own send stalls too.
	require.Never(t, func() bool {
		select {
		case <-sent:
			return true
		default:
			return false
		}
	}, 300*time.Millisecond, 10*time.Millisecond, "the peer's 64 MB write completed: the server is not blocked")
	began := time.Now()
	ex.Stop(t) // run returns nil: no "context deadline exceeded" from a stop held up
	assert.Less(t, time.Since(began), 3*time.Second, "SIGTERM ends within the grace plus a second (and slack)")
	c.Close()
	<-sent
}
