package main

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/test/testkit"
)

// Slow readers: peers that read their echo back slower than they send.
// A connection must not block its actor on the socket: what the socket
// does not take waits in the connection's outbound buffer, the
// connection stops reading while more than the high watermark (64 KiB)
// is queued, so the peer's own sends stall, and the write timeout ends
// it only when the peer takes no byte for that long. A slow but steady
// reader is served to the last byte however long the whole transfer
// takes, with the server's memory bounded, and the connection's actor
// answers calls and stops meanwhile.

// slowArgs are the echo's flags for a slow peer, in mode: a write
// timeout a transfer to a slow reader outlasts many times over.
func slowArgs(mode []string, more ...string) []string {
	args := append([]string{"-addr", "127.0.0.1:0", "-write-timeout", "1s", "-grace", "200ms"}, mode...)
	return append(args, more...)
}

// pace is how a slow peer reads: chunk bytes every period, on a fixed
// schedule (with no catching up after a late read).
type pace struct {
	chunk  int
	period time.Duration
}

func (p pace) String() string {
	return fmt.Sprintf("%d KiB every %v (%.0f KB/s)", p.chunk>>10, p.period, float64(p.chunk)/p.period.Seconds()/1000)
}

// peerChunk is the size of the slow peer's writes.
const peerChunk = 64 << 10

// peerBuffer is the slow peer's SO_RCVBUF and SO_SNDBUF: small, so that
// the server's sends back up as soon as the peer falls behind, and the
// peer's own sends stall as soon as the server stops reading.
const peerBuffer = 64 << 10

// slowPeer is a client of the echo that sends total random bytes in
// peerChunk writes from a goroutine of its own and reads the echo back
// at its pace on another, checking every byte against the same random
// stream. Once it has sent everything it half-closes; once it has read
// everything back it expects the echo's end (EOF).
type slowPeer struct {
	c     *net.TCPConn
	total int64
	began time.Time

	sent    atomic.Int64
	got     atomic.Int64
	writing atomic.Int64 // when the write in progress began, ns since began + 1; 0: none

	wdone, rdone chan struct{}
	werr, rerr   error // set before wdone, rdone are closed
	rtook        time.Duration
}

// startSlowPeer dials addr and starts the transfer, bounded by a
// deadline within from now. The sockets are closed and both goroutines
// waited for when the test ends.
func startSlowPeer(t *testing.T, addr string, total int64, p pace, within time.Duration) *slowPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testkit.Wait)
	require.NoError(t, err)
	c := nc.(*net.TCPConn)
	s := &slowPeer{c: c, total: total, wdone: make(chan struct{}), rdone: make(chan struct{})}
	t.Cleanup(func() {
		c.Close()
		<-s.wdone
		<-s.rdone
	})
	require.NoError(t, c.SetReadBuffer(peerBuffer))
	require.NoError(t, c.SetWriteBuffer(peerBuffer))
	require.NoError(t, c.SetDeadline(time.Now().Add(within)))
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	s.began = time.Now()
	go func() {
		defer close(s.wdone)
		s.werr = s.write(rand.NewChaCha8(seed))
	}()
	go func() {
		defer close(s.rdone)
		s.rerr = s.read(rand.NewChaCha8(seed), p)
		s.rtook = time.Since(s.began)
	}()
	return s
}

func (s *slowPeer) write(rng *rand.ChaCha8) error {
	b := make([]byte, peerChunk)
	for s.sent.Load() < s.total {
		n := int(min(int64(len(b)), s.total-s.sent.Load()))
		_, _ = rng.Read(b[:n])
		s.writing.Store(int64(time.Since(s.began)) + 1)
		m, err := s.c.Write(b[:n])
		s.writing.Store(0)
		s.sent.Add(int64(m))
		if err != nil {
			return fmt.Errorf("the peer's write, after %d of %d bytes sent: %w", s.sent.Load(), s.total, err)
		}
	}
	return s.c.CloseWrite()
}

func (s *slowPeer) read(rng *rand.ChaCha8, p pace) error {
	buf, want := make([]byte, p.chunk), make([]byte, p.chunk)
	next := time.Now()
	for s.got.Load() < s.total {
		n := int(min(int64(p.chunk), s.total-s.got.Load()))
		m, err := io.ReadFull(s.c, buf[:n])
		_, _ = rng.Read(want[:m])
		if i := firstDiff(buf[:m], want[:m]); i >= 0 {
			return fmt.Errorf("echo mismatch at byte %d: got %#x, sent %#x", s.got.Load()+int64(i), buf[i], want[i])
		}
		s.got.Add(int64(m))
		if err != nil {
			return fmt.Errorf("the echo ended after %d of %d bytes (%v in; %d bytes sent): %w",
				s.got.Load(), s.total, time.Since(s.began).Round(time.Millisecond), s.sent.Load(), err)
		}
		next = next.Add(p.period)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		} else {
			next = time.Now()
		}
	}
	// Everything is back: the echo ends when the peer's half-close
	// reaches it, with nothing more.
	n, err := s.c.Read(buf[:1])
	switch {
	case n > 0:
		return fmt.Errorf("the echo sent more than the %d bytes it was sent", s.total)
	case !errors.Is(err, io.EOF):
		return fmt.Errorf("after the whole echo, want EOF, got %w", err)
	}
	return nil
}

// firstDiff is the index of the first byte where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// blockedFor is how long the peer's write in progress has been blocked
// (0: no write in progress).
func (s *slowPeer) blockedFor() time.Duration {
	w := s.writing.Load()
	if w == 0 {
		return 0
	}
	return time.Since(s.began) - time.Duration(w-1)
}

// readerDone reports whether the peer's reader has ended.
func (s *slowPeer) readerDone() bool {
	select {
	case <-s.rdone:
		return true
	default:
		return false
	}
}

// wait waits for both goroutines, up to d.
func (s *slowPeer) wait(t *testing.T, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for _, ch := range []chan struct{}{s.rdone, s.wdone} {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("the peer's transfer did not end within %v: %d bytes sent, %d echoed of %d",
				d, s.sent.Load(), s.got.Load(), s.total)
		}
	}
}

// requireWhole requires that the whole transfer went through: everything
// sent, everything echoed back byte for byte, then EOF.
func (s *slowPeer) requireWhole(t *testing.T, ex *testkit.Example) {
	t.Helper()
	require.NoError(t, s.rerr, "%d bytes sent; the server logged:\n%s", s.sent.Load(), ex.Stderr.String())
	require.NoError(t, s.werr, "the server logged:\n%s", ex.Stderr.String())
	require.Equal(t, s.total, s.sent.Load())
	require.Equal(t, s.total, s.got.Load())
}

// skipRerun skips the run with ETCP_TEST_EVENT_LOOP=1: these tests run
// the echo in both of its modes themselves, and take long.
func skipRerun(t *testing.T) {
	t.Helper()
	if testkit.EventLoop() {
		t.Skip("runs the echo in both of its modes itself")
	}
}

// (a) A peer that reads its echo at about 640 KB/s gets all of its
// 8 MiB back, byte for byte: the write timeout of 1 s ends a connection
// only when the peer takes nothing for 1 s, never one whose peer reads
// steadily, however long the whole transfer takes (about 13 s here).
func TestSlowReaderGetsEverything(t *testing.T) {
	skipRerun(t)
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testSlowReaderGetsEverything(t, mode)
		})
	}
}

func testSlowReaderGetsEverything(t *testing.T, mode []string) {
	const total = 8 << 20
	p := pace{chunk: 32 << 10, period: 50 * time.Millisecond}
	ex := testkit.StartExample(t, run, slowArgs(mode)...)
	peer := startSlowPeer(t, ex.Addr, total, p, 60*time.Second)
	peer.wait(t, 70*time.Second)
	t.Logf("%d MiB echoed to a peer reading %v in %v", total>>20, p, peer.rtook.Round(time.Millisecond))
	peer.requireWhole(t, ex)
	ex.Stop(t)
	assert.NotContains(t, ex.Stderr.String(), "level=ERROR")
}

// (b) A peer that sends 64 MiB and reads it back at about 3 MB/s gets
// it all, byte for byte, and the server's memory stays bounded: the
// connection stops reading while its outbound buffer is over the high
// watermark, so what the peer sends waits in the kernel's buffers and
// the peer's, not in the server's heap. The bound is generous (the
// process's whole heap, the other mode's transfer included): it fails
// only when the server buffers the stream.
func TestSlowReaderBoundedMemory(t *testing.T) {
	skipRerun(t)
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testSlowReaderBoundedMemory(t, mode)
		})
	}
}

func testSlowReaderBoundedMemory(t *testing.T, mode []string) {
	const (
		total = 64 << 20
		// Half the stream: a server that reads what its peer sends
		// faster than the peer takes it back holds most of it.
		maxHeap = 32 << 20
	)
	p := pace{chunk: 64 << 10, period: 20 * time.Millisecond}
	ex := testkit.StartExample(t, run, slowArgs(mode)...)
	heap := testkit.SampleHeap(t, 200*time.Millisecond)
	peer := startSlowPeer(t, ex.Addr, total, p, 120*time.Second)
	peer.wait(t, 130*time.Second)
	peak, samples := heap.Stop()
	t.Logf("%d MiB echoed to a peer reading %v in %v; peak heap in use %.1f MiB (the process's, %d samples)",
		total>>20, p, peer.rtook.Round(time.Millisecond), float64(peak)/(1<<20), samples)
	peer.requireWhole(t, ex)
	assert.Less(t, peak, uint64(maxHeap), "the process's heap in use peaked at %.1f MiB while echoing %d MiB",
		float64(peak)/(1<<20), total>>20)
	ex.Stop(t)
	assert.NotContains(t, ex.Stderr.String(), "level=ERROR")
}

// (c) While a connection's echo is stalled on its slow reader, its actor
// still answers: calls made through the management endpoint, over longer
// than the write timeout, are each answered well within it (the echo's
// handler answers every call with ErrUnhandledCall, which is an answer
// from the actor), the connection stays up, and a stop made through the
// endpoint returns at once and ends the peer's connection.
func TestSlowReaderConnAnswers(t *testing.T) {
	skipRerun(t)
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if ownProcess(t) {
				return
			}
			testSlowReaderConnAnswers(t, mode)
		})
	}
}

func testSlowReaderConnAnswers(t *testing.T, mode []string) {
	const (
		total = 8 << 20
		// Well under the write timeout (1 s), which bounds how long a
		// connection whose actor blocks in a write keeps a message
		// waiting: a bound of 1 s could not tell.
		maxCall = 500 * time.Millisecond
		// A stop may flush what is queued, at the peer's pace (64 KiB
		// takes it 100 ms).
		maxStop     = time.Second
		callFor     = 1500 * time.Millisecond
		callEvery   = 100 * time.Millisecond
		echoedFirst = 256 << 10
		stallFirst  = 50 * time.Millisecond
		behind      = 1 << 20
	)
	p := pace{chunk: 32 << 10, period: 50 * time.Millisecond}
	lines, stop := startEcho(t, slowArgs(mode, "-manage", "127.0.0.1:0")...)
	require.Contains(t, lines, "manage", "%v", lines)
	// One byte echoed before the operator dials, as TestManageFlag does.
	// Under -race this socket write also orders manage.Enable before the
	// endpoint's first connection to the operator: Enable's
	// EventStream.SubscribeWithPredicate sets the predicate after it
	// unlocks, and protoactor's Publish reads it (a race that is the
	// library's and protoactor's, not this test's; a socket write
	// happens before every later socket read under the race detector).
	warm := testkit.DialRaw(t, "tcp", lines["listening"])
	testkit.Write(t, warm, "x")
	testkit.ReadN(t, warm, 1)
	require.NoError(t, warm.Close())
	op := startOperator(t, lines["manage"])

	peer := startSlowPeer(t, lines["listening"], total, p, 30*time.Second)
	// Stalled: the peer has read at its pace for a while (some 400 ms),
	// and the echo is far behind: the peer's own write has been blocked
	// for a while, as the server reads no more, or (the kernel's buffers
	// taking much of the stream) a lot of what the peer sent has not
	// come back.
	deadline := time.Now().Add(testkit.Wait)
	for peer.got.Load() < echoedFirst || peer.blockedFor() < stallFirst && peer.sent.Load()-peer.got.Load() < behind {
		if peer.readerDone() {
			t.Fatalf("the echo ended before it stalled: %d bytes sent, %d echoed: %v", peer.sent.Load(), peer.got.Load(), peer.rerr)
		}
		require.True(t, time.Now().Before(deadline), "the transfer did not stall within %v: %d bytes sent, %d echoed",
			testkit.Wait, peer.sent.Load(), peer.got.Load())
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("stalled %v in: %d bytes sent, %d echoed, the peer's write blocked for %v",
		time.Since(peer.began).Round(time.Millisecond), peer.sent.Load(), peer.got.Load(),
		peer.blockedFor().Round(time.Millisecond))

	// A call every callEvery for callFor, longer than the write timeout:
	// the connection answers each at once (its handler's answer to a
	// call it does not handle), and stays up, its peer still reading.
	var (
		calls, answered int
		slowest         time.Duration
		firstBad        string
	)
	for began := time.Now(); time.Since(began) < callFor; time.Sleep(callEvery) {
		at := time.Since(began)
		took, kind, text := op.do(t, "call")
		calls++
		slowest = max(slowest, took)
		if kind == "error-reply" && strings.Contains(text, behaviours.ErrUnhandledCall.Error()) && took < maxCall {
			answered++
		} else if firstBad == "" {
			firstBad = fmt.Sprintf("call %d (%v into the calls): %s %q after %v (%d bytes echoed)",
				calls, at.Round(time.Millisecond), kind, text, took, peer.got.Load())
		}
	}
	t.Logf("%d calls in %v: %d answered within %v, the slowest took %v; the first that was not: %s",
		calls, callFor, answered, maxCall, slowest, firstBad)
	assert.Equal(t, calls, answered, "calls answered within %v, while the echo is stalled; the first that was not: %s",
		maxCall, firstBad)
	if peer.readerDone() {
		t.Errorf("the connection ended while stalled on its slow reader: %v", peer.rerr)
	}

	stopAt := peer.got.Load()
	took, kind, text := op.do(t, "stop")
	t.Logf("stop: %s %q after %v", kind, text, took)
	assert.Equal(t, "ok", kind, "%s", text)
	assert.Less(t, took, maxStop, "the stop waited behind the stalled write")

	select {
	case <-peer.rdone:
	case <-time.After(testkit.Wait):
		t.Fatalf("the peer's connection did not end within %v of the stop: %d bytes echoed", testkit.Wait, peer.got.Load())
	}
	t.Logf("the peer's reader ended %v in, %d bytes echoed (%d at the stop): %v",
		peer.rtook.Round(time.Millisecond), peer.got.Load(), stopAt, peer.rerr)
	require.Error(t, peer.rerr, "the stop ended the transfer")
	assert.Less(t, peer.got.Load(), int64(total))
	assert.True(t, errors.Is(peer.rerr, io.EOF) || errors.Is(peer.rerr, io.ErrUnexpectedEOF) ||
		errors.Is(peer.rerr, syscall.ECONNRESET), "the peer sees the connection end (EOF or reset), not %v", peer.rerr)
	peer.c.Close() // the writer too, if the end has not reached it
	peer.wait(t, testkit.Wait)
	require.NoError(t, stop())
}

// envOwnProcess marks a process that runs one slow-reader test alone.
const envOwnProcess = "ECHO_TEST_OWN_PROCESS"

// ownProcess runs the calling test in a process of its own (testkit.OwnProcess).
func ownProcess(t *testing.T) bool {
	t.Helper()
	return testkit.OwnProcess(t, envOwnProcess)
}

// envOperator makes the test binary an operator: a node of its own that
// dials the management endpoint at the variable's value and acts on the
// connection with the most bytes when told to on stdin (a second protoactor
// remote must not share a process with the echo's).
const envOperator = "ECHO_TEST_OPERATOR"

func init() {
	if addr := os.Getenv(envOperator); addr != "" {
		os.Exit(operate(addr))
	}
}

// operate is the operator's main. It prints "ready" once it has dialled
// the endpoint; then, for each line on stdin, "call" or "stop", it acts
// on the connection and prints the verb, how long the action took (ns),
// what came of it (reply, error-reply: the handler answered with an
// error; ok; failed: the endpoint or the transport failed) and its text
// (quoted). It ends at the end of stdin.
func operate(addr string) int {
	sys := actors.NewSystem(nil)
	defer sys.Shutdown()
	node, err := registry.StartNode(sys, registry.WithConnectRetries(1))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer node.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Wait)
	c, err := manage.Dial(ctx, node, addr)
	cancel()
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready")
	var ref *manage.ConnRef
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		verb := in.Text()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if ref == nil {
			l, err := c.Conns(ctx, manage.Query{}) // the top by bytes first
			if err != nil || len(l.Conns) == 0 {
				fmt.Printf("%s 0 failed %q\n", verb, fmt.Sprintf("listing the connections: %d, %v", len(l.Conns), err))
				cancel()
				continue
			}
			r := l.Conns[0].Ref()
			ref = &r
		}
		began := time.Now()
		switch verb {
		case "call":
			_, err = c.Call(ctx, *ref, "whoami")
		case "stop":
			err = c.Stop(ctx, *ref, "")
		default:
			err = fmt.Errorf("unknown verb %q", verb)
		}
		took := time.Since(began)
		cancel()
		var re *manage.RemoteError
		kind := "ok"
		switch {
		case errors.As(err, &re), errors.Is(err, context.DeadlineExceeded),
			err != nil && (verb != "call" || strings.HasPrefix(err.Error(), "etcp/manage")):
			kind = "failed"
		case err != nil:
			kind = "error-reply"
		case verb == "call":
			kind = "reply"
		}
		text := ""
		if err != nil {
			text = err.Error()
		}
		fmt.Printf("%s %d %s %q\n", verb, took.Nanoseconds(), kind, text)
	}
	return 0
}

// operator is an operator process, told what to do on its stdin.
type operator struct {
	in    io.WriteCloser
	lines chan string
}

// startOperator starts an operator on the endpoint at addr and waits
// until it is ready; it is told to end, and waited for, when the test
// ends.
func startOperator(t *testing.T, addr string) *operator {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envOperator+"="+addr, "GORACE=atexit_sleep_ms=0")
	stderr := new(testkit.LockedBuffer)
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	op := &operator{in: in, lines: make(chan string, 16)}
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			op.lines <- sc.Text()
		}
		close(op.lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		in.Close()
		select {
		case err := <-exited:
			assert.NoError(t, err, "the operator: %s", stderr.String())
		case <-time.After(testkit.Wait):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("the operator did not end: %s", stderr.String())
		}
	})
	line, ok := <-op.lines
	require.True(t, ok, "the operator ended: %s", stderr.String())
	require.Equal(t, "ready", line, "stderr: %s", stderr.String())
	return op
}

// do tells the operator verb and returns what came of it.
func (op *operator) do(t *testing.T, verb string) (took time.Duration, kind, text string) {
	t.Helper()
	_, err := fmt.Fprintln(op.in, verb)
	require.NoError(t, err)
	var line string
	select {
	case l, ok := <-op.lines:
		require.True(t, ok, "the operator ended")
		line = l
	case <-time.After(testkit.Wait):
		t.Fatalf("the operator did not answer %s within %v", verb, testkit.Wait)
	}
	f := strings.SplitN(line, " ", 4)
	require.Len(t, f, 4, "%q", line)
	require.Equal(t, verb, f[0], "%q", line)
	ns, err := strconv.ParseInt(f[1], 10, 64)
	require.NoError(t, err, "%q", line)
	text, err = strconv.Unquote(f[3])
	require.NoError(t, err, "%q", line)
	return time.Duration(ns), f[2], text
}
