package faults_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// length4 is 4-byte length framing.
func length4() actors.Option { return actors.WithSocket(transport.WithFramer(transport.Length(4))) }

// trickle writes the header of a frame announcing 1000 bytes, then its
// bytes one at a time every pause, until stop is closed or a write fails
// (its error).
func trickle(c net.Conn, pause time.Duration, stop <-chan struct{}) error {
	b := append(frame(make([]byte, 1000))[:4], make([]byte, 1000)...)
	for i := range b {
		if _, err := c.Write(b[i : i+1]); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-time.After(pause):
		}
	}
	return nil
}

// Defect 4: bytes of a frame that never completes do not re-arm the
// handler's Timeout; whole frames do.
func TestPartialFramesDoNotRearmTimeout(t *testing.T) {
	const d = 500 * time.Millisecond
	sys := testkit.NewSystem(t)
	p := newProbe()
	type seen struct {
		id uint64
		at time.Time
	}
	started := make(chan seen, 4)
	fired := make(chan seen, 64)
	p.init = func(c behaviours.Conn) behaviours.Result {
		started <- seen{c.ID(), time.Now()}
		return behaviours.Timeout(d)
	}
	p.timeout = func(c behaviours.Conn) behaviours.Result {
		fired <- seen{c.ID(), time.Now()}
		return behaviours.Continue()
	}
	srv := testkit.StartServer(t, sys, "", newHandler, p, length4())

	t.Run("a frame trickled a byte every 50 ms", func(t *testing.T) {
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { defer close(done); _ = trickle(c, 50*time.Millisecond, stop) }()
		defer func() { close(stop); <-done }()
		at, ran := testkit.Recv(t, started), testkit.Recv(t, fired)
		require.Equal(t, at.id, ran.id)
		after := ran.at.Sub(at.at)
		assert.GreaterOrEqual(t, after, d, "not before its time")
		assert.Less(t, after, d+time.Second, "Timeout ran %v after Init", after)
	})

	t.Run("whole frames every d/5", func(t *testing.T) {
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		id := testkit.Recv(t, started).id
		deadline := time.Now().Add(3 * d)
		for time.Now().Before(deadline) {
			roundTripFramed(t, c, []byte("ping"))
			for len(fired) > 0 {
				require.NotEqual(t, id, (<-fired).id, "Timeout ran although frames keep arriving")
			}
			time.Sleep(d / 5) // the peer's pace
		}
	})
}

// Defect 4: WithIdleTimeout resets slowloris peers (a never-finished
// frame, a byte at a time), 120 at once, within d plus about d/4; a peer
// sending whole frames (every d/4, so that a loaded machine keeps it
// within d/2) stays open.
func TestIdleTimeoutClosesSlowloris(t *testing.T) {
	const d = 400 * time.Millisecond
	const loris = 120
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, length4(), actors.WithIdleTimeout(d))

	good := testkit.DialRaw(t, "tcp", srv.Addr().String())
	goodDone := make(chan error, 1)
	go func() { // whole frames every d/4 (d/2 at the latest, with some slack for a loaded machine), for 5d
		for i := range 20 {
			msg := []byte{byte(i)}
			if _, err := good.Write(frame(msg)); err != nil {
				goodDone <- err
				return
			}
			got := make([]byte, 5)
			if _, err := io.ReadFull(good, got); err != nil {
				goodDone <- err
				return
			}
			time.Sleep(d / 4) // the peer's pace
		}
		goodDone <- nil
	}()

	type result struct {
		took       time.Duration
		rerr, werr error
	}
	results := make(chan result, loris)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range loris {
		start := time.Now() // before the server can have accepted it
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		wg.Go(func() {
			werr := make(chan error, 1)
			go func() { werr <- trickle(c, 50*time.Millisecond, stop) }()
			_, rerr := c.Read(make([]byte, 1))
			took := time.Since(start)
			results <- result{took, rerr, <-werr} // the next byte's write fails
		})
	}
	var worst time.Duration
	for range loris {
		r := testkit.Recv(t, results)
		// The reset is reported once, to the read or to a write made
		// meanwhile (the read then sees the end of stream).
		require.True(t, errors.Is(r.rerr, syscall.ECONNRESET) || errors.Is(r.werr, syscall.ECONNRESET),
			"the slowloris is reset: read %v, write %v", r.rerr, r.werr)
		require.GreaterOrEqual(t, r.took, d, "not before the idle timeout")
		worst = max(worst, r.took)
	}
	close(stop)
	wg.Wait()
	t.Logf("slowloris peers reset after at most %v (d = %v)", worst, d)
	require.Less(t, worst, d+d/4+time.Second, "reset within d + d/4 (and scheduling)")

	require.NoError(t, testkit.Recv(t, goodDone), "the peer sending whole frames stayed open")
	roundTripFramed(t, good, []byte("still here"))
	p.awaitTerms(t, loris)
	require.Equal(t, loris, p.reasonsMatching(actors.ErrIdleTimeout))
	require.Len(t, testkit.Conns(t, srv), 1)
}

// Defect 4: the idle timeout reaches a passivated (hibernated)
// connection too: the sweep's message wakes it, and it is reset.
func TestIdleTimeoutEndsPassivatedConnections(t *testing.T) {
	const d = time.Second // the window in which the test sees it passivated
	sys := testkit.NewSystem(t)
	p := newProbe()
	p.init = func(behaviours.Conn) behaviours.Result { return behaviours.Hibernate() }
	srv := testkit.StartServer(t, sys, "", newHandler, p, length4(), actors.WithIdleTimeout(d))
	start := time.Now()
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	require.Eventually(t, func() bool { return srv.Info().Conns.Passivated == 1 }, testkit.Wait, tick)
	requireReset(t, c)
	require.GreaterOrEqual(t, time.Since(start), d)
	require.ErrorIs(t, p.terminated(t).reason, actors.ErrIdleTimeout)
	p.requireOnce(t, 1)
}
