// Package faults_test proves etcp's reliability work over real loopback
// sockets: one regression test per defect of the issue, the limits
// (connection cap, graceful shutdown, shared listeners, Info), and a
// fault suite in which peers and operators misbehave against one echo
// server, after which the server must still accept and echo byte-exact
// with goroutines and descriptors back to their baseline, every
// Terminate run exactly once and every acknowledged send delivered.
//
// Handlers report what they see through a probe given as their init
// argument; its hooks let a test choose what a callback returns.
package faults_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tick is how often Eventually polls.
const tick = 2 * time.Millisecond

// term is one Terminate a probe saw.
type term struct {
	id     uint64
	reason error
	at     time.Time
}

// probe is what the handlers of one server (or of one side) share:
// counts of Init and Terminate per connection id, the reasons, and hooks
// that choose what the callbacks return (nil: echo, or Base's default).
// Hooks run in the connections' actors, concurrently across connections.
type probe struct {
	mu      sync.Mutex
	inits   map[uint64]int
	terms   map[uint64]int
	reasons map[uint64]error
	termCh  chan term
	nInit   atomic.Int64
	nTerm   atomic.Int64

	packet  func(c behaviours.Conn, p []byte) behaviours.Result
	call    func(c behaviours.Conn, req any, from behaviours.From) behaviours.Result
	cast    func(c behaviours.Conn, msg any) behaviours.Result
	info    func(c behaviours.Conn, msg any) behaviours.Result
	timeout func(c behaviours.Conn) behaviours.Result
	init    func(c behaviours.Conn) behaviours.Result
	onTerm  func(c behaviours.Conn, reason error)
	// swallow makes Terminate return nil whatever the reason.
	swallow bool
}

func newProbe() *probe {
	return &probe{inits: map[uint64]int{}, terms: map[uint64]int{}, reasons: map[uint64]error{},
		termCh: make(chan term, 1<<14)}
}

// handler is the one handler of the suite: it reports to its probe and
// runs its hooks.
type handler struct {
	behaviours.Base
	p *probe
}

func newHandler() behaviours.Handler { return &handler{} }

func (h *handler) Init(c behaviours.Conn, arg any) behaviours.Result {
	h.p = arg.(*probe)
	h.p.mu.Lock()
	h.p.inits[c.ID()]++
	h.p.mu.Unlock()
	h.p.nInit.Add(1)
	if h.p.init != nil {
		return h.p.init(c)
	}
	return behaviours.Continue()
}

func (h *handler) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	if h.p.packet != nil {
		return h.p.packet(c, p)
	}
	return behaviours.Send(bytes.Clone(p))
}

func (h *handler) HandleCall(c behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	if h.p.call != nil {
		return h.p.call(c, req, from)
	}
	return h.Base.HandleCall(c, req, from)
}

func (h *handler) HandleCast(c behaviours.Conn, msg any) behaviours.Result {
	if h.p.cast != nil {
		return h.p.cast(c, msg)
	}
	return behaviours.Continue()
}

func (h *handler) HandleInfo(c behaviours.Conn, msg any) behaviours.Result {
	if h.p.info != nil {
		return h.p.info(c, msg)
	}
	return behaviours.Continue()
}

func (h *handler) Timeout(c behaviours.Conn) behaviours.Result {
	if h.p.timeout != nil {
		return h.p.timeout(c)
	}
	return behaviours.Continue()
}

func (h *handler) Terminate(c behaviours.Conn, reason error) error {
	h.p.mu.Lock()
	h.p.terms[c.ID()]++
	h.p.reasons[c.ID()] = reason
	h.p.mu.Unlock()
	h.p.nTerm.Add(1)
	if h.p.onTerm != nil {
		h.p.onTerm(c, reason)
	}
	select {
	case h.p.termCh <- term{id: c.ID(), reason: reason, at: time.Now()}:
	default: // the counts stay exact; only the channel is bounded
	}
	if h.p.swallow {
		return nil
	}
	return reason
}

// terminated waits for the next Terminate and returns it.
func (p *probe) terminated(t testing.TB) term {
	t.Helper()
	return testkit.Recv(t, p.termCh)
}

// requireOnce asserts that every connection whose Init ran has run
// Terminate exactly once, and that n connections did.
func (p *probe) requireOnce(t testing.TB, n int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Len(t, p.inits, n, "connections initialised")
	for id, k := range p.inits {
		require.Equal(t, 1, k, "Init of connection %d", id)
		require.Equal(t, 1, p.terms[id], "Terminate of connection %d", id)
	}
	require.Len(t, p.terms, len(p.inits), "Terminate of a connection never initialised")
}

// awaitTerms waits until n Terminates have run.
func (p *probe) awaitTerms(t testing.TB, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return p.nTerm.Load() >= n }, testkit.Wait, tick,
		"Terminate ran %d times, want %d", p.nTerm.Load(), n)
}

// reasonsMatching counts the Terminate reasons that match target.
func (p *probe) reasonsMatching(target error) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.reasons {
		if errors.Is(r, target) {
			n++
		}
	}
	return n
}

// fds counts the process's open descriptors.
func fds(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

// rssKB reads the process's resident set size.
func rssKB(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// heapAfterGC is the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// requireReset reads c to its end and requires a reset (ECONNRESET), not
// a clean end of stream.
func requireReset(t testing.TB, c net.Conn) {
	t.Helper()
	_, err := io.Copy(io.Discard, c)
	require.ErrorIs(t, err, syscall.ECONNRESET, "want a reset")
}

// roundTrip writes msg and expects it back (from an echo, raw framing).
func roundTrip(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	testkit.Write(t, c, msg)
	require.Equal(t, msg, string(testkit.ReadN(t, c, len(msg))))
}

// frame is p with a 4-byte big-endian length prefix.
func frame(p []byte) []byte {
	b := make([]byte, 4, 4+len(p))
	b[0], b[1], b[2], b[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
	return append(b, p...)
}

// roundTripFramed sends p in a 4-byte length frame and expects it back.
func roundTripFramed(t testing.TB, c net.Conn, p []byte) {
	t.Helper()
	_, err := c.Write(frame(p))
	require.NoError(t, err)
	got := testkit.ReadN(t, c, 4+len(p))
	require.Equal(t, frame(p), got, "echoed byte-exact")
}

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// within runs f and returns how long it took.
func within(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// summary is the one line a fault scenario prints.
type summary struct {
	name                     string
	faults, conns            int
	acked, delivered         int64
	goroutines0, goroutines1 int
	rss0, rss1               int
}

func (s summary) report(t testing.TB) {
	t.Helper()
	line := fmt.Sprintf("scenario=%s faults=%d conns=%d acked=%d delivered=%d goroutines=%d/%d rss_kb=%d/%d",
		s.name, s.faults, s.conns, s.acked, s.delivered, s.goroutines0, s.goroutines1, s.rss0, s.rss1)
	t.Logf("%s", line)
	if testing.Verbose() {
		fmt.Println(line)
	}
}

// ctxFor is a context that ends after d or with the test.
func ctxFor(t testing.TB, d time.Duration) context.Context { return testkit.CtxTimeout(t, d) }

// smallSocket makes an etcp connection's kernel send buffer small, so
// that a peer that does not read stalls its writes after a few tens of
// KiB rather than megabytes.
func smallSocket() transport.Option {
	return transport.WithSocketOptions(transport.SocketOptions{NoDelay: true, KeepAlive: 15 * time.Second,
		WriteBuffer: 32 << 10, ReadBuffer: 32 << 10})
}

// peerListener is a plain TCP listener for an etcp client to dial: the
// test's stand-in for a remote peer. Each accepted socket has a small
// receive buffer and a Wait deadline, and is closed when the test ends.
type peerListener struct {
	t  testing.TB
	ln *net.TCPListener
}

func listenPeer(t testing.TB) *peerListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return &peerListener{t: t, ln: ln.(*net.TCPListener)}
}

func (l *peerListener) addr() string { return l.ln.Addr().String() }

// accept takes the next connection.
func (l *peerListener) accept() *net.TCPConn {
	l.t.Helper()
	require.NoError(l.t, l.ln.SetDeadline(time.Now().Add(testkit.Wait)))
	c, err := l.ln.AcceptTCP()
	require.NoError(l.t, err)
	l.t.Cleanup(func() { c.Close() })
	require.NoError(l.t, c.SetReadBuffer(32<<10))
	require.NoError(l.t, c.SetDeadline(time.Now().Add(testkit.Wait)))
	return c
}

// dialSmall opens a raw client socket with a small receive buffer.
func dialSmall(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: testkit.Wait, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(testkit.Wait)))
	return c.(*net.TCPConn)
}

// randomBytes returns n pseudo-random bytes (a pattern that no shift or
// repetition reproduces).
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}
