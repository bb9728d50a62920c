package faults_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/test/testkit"
)

// The EMFILE test runs its server in a child process (this test binary
// again, with emfileEnv set), which lowers its own descriptor limit; the
// clients are the parent's. They talk over the child's stdin and stdout:
//
//	child  -> "EMFILE listening ADDR"   the server is up, its descriptors all taken
//	child  -> "EMFILE burst"            the acceptors have logged EMFILE
//	parent -> "release\n"               the clients wait in the backlog: free the descriptors
//	parent -> "done\n"                  every client was served and has closed
//	child  -> "EMFILE result k=v ..."   what the child counted, then PASS or FAIL
const emfileEnv = "ETCP_FAULTS_EMFILE_CHILD"

const (
	emfileLimit   = 64
	emfileClients = 200
)

// warnCounter is a slog.Handler that counts warnings by message and sums
// the failures the "accepting again" lines report.
type warnCounter struct {
	mu       sync.Mutex
	lines    map[string]int
	failures int64
	first    chan struct{}
	once     sync.Once
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines[r.Message]++
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "failures" {
			w.failures += a.Value.Int64()
		}
		return true
	})
	if strings.Contains(r.Message, "accept failed") {
		w.once.Do(func() { close(w.first) })
	}
	return nil
}

func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

func (w *warnCounter) total() (lines int, failures int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.lines {
		lines += n
	}
	return lines, w.failures
}

// Defect 11, and the fault suite's descriptor flood: 200 clients come to
// a server limited to 64 descriptors, all of them taken at first. The
// accept errors are logged once per burst (a handful of lines, not one
// per failure), every client is served once descriptors free up, and the
// child's goroutines and descriptors come back to their baseline.
func TestEMFILELoggedOncePerBurst(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("lowers RLIMIT_NOFILE and counts descriptors through /proc")
	}
	if os.Getenv(emfileEnv) != "" {
		t.Skip("in the child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEMFILEChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileEnv+"=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	out := new(testkit.LockedBuffer)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(out, sc.Text())
			if rest, ok := strings.CutPrefix(sc.Text(), "EMFILE "); ok {
				lines <- rest
			}
		}
		close(lines)
	}()
	next := func(prefix string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the child ended early:\n%s", out.String())
			rest, ok := strings.CutPrefix(l, prefix)
			require.True(t, ok, "want %q, got %q", prefix, l)
			return rest
		case <-time.After(30 * time.Second):
			t.Fatalf("no %q from the child", prefix)
			return ""
		}
	}

	addr := next("listening ")
	var acked, delivered atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, emfileClients)
	for i := range emfileClients {
		c, err := net.DialTimeout("tcp", addr, testkit.Wait)
		require.NoError(t, err, "the backlog takes them all")
		wg.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(40 * time.Second))
			msg := fmt.Sprintf("client %03d", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				errs <- err
				return
			}
			acked.Add(1)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
				errs <- fmt.Errorf("client %d: %q, %v", i, got, err)
				return
			}
			delivered.Add(1)
		})
	}
	next("burst")
	_, err = io.WriteString(stdin, "release\n")
	require.NoError(t, err)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.EqualValues(t, emfileClients, delivered.Load(), "every client served")
	_, err = io.WriteString(stdin, "done\n")
	require.NoError(t, err)

	var warnLines, failures, g0, g1, rss0, rss1, terms int
	_, err = fmt.Sscanf(next("result "), "warn_lines=%d failures=%d goroutines=%d/%d rss_kb=%d/%d terms=%d",
		&warnLines, &failures, &g0, &g1, &rss0, &rss1, &terms)
	require.NoError(t, err)
	require.NoError(t, cmd.Wait(), "child:\n%s", out.String())
	require.Contains(t, out.String(), "--- PASS: TestEMFILEChild", "child:\n%s", out.String())

	t.Logf("%d warning lines for %d accept failures", warnLines, failures)
	require.LessOrEqual(t, warnLines, 30, "a handful of lines, not one per failure")
	require.Greater(t, failures, warnLines, "the lines count the failures they stand for")
	require.Equal(t, emfileClients, terms)
	summary{name: "fd-flood", faults: failures, conns: emfileClients, acked: acked.Load(),
		delivered: delivered.Load(), goroutines0: g0, goroutines1: g1, rss0: rss0, rss1: rss1}.report(t)
}

// TestEMFILEChild is the server side of TestEMFILELoggedOncePerBurst.
func TestEMFILEChild(t *testing.T) {
	if os.Getenv(emfileEnv) == "" {
		t.Skip("run by TestEMFILELoggedOncePerBurst")
	}
	stdin := bufio.NewReader(os.Stdin)
	expect := func(want string) {
		line, err := stdin.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, want, strings.TrimSpace(line))
	}
	warns := &warnCounter{lines: map[string]int{}, first: make(chan struct{})}
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p, actors.WithLogger(slog.New(warns)))
	g0, fd0, rss0 := runtime.NumGoroutine(), fds(t), rssKB(t)

	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old))
	lowered := old
	lowered.Cur = emfileLimit
	require.Less(t, fd0, emfileLimit)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered))
	defer func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)) }()
	var hog []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			require.ErrorIs(t, err, syscall.EMFILE)
			break
		}
		hog = append(hog, f)
	}

	fmt.Printf("EMFILE listening %s\n", srv.Addr())
	select {
	case <-warns.first:
	case <-time.After(30 * time.Second):
		t.Fatal("no EMFILE warning")
	}
	fmt.Println("EMFILE burst")
	expect("release")
	for _, f := range hog {
		f.Close()
	}
	expect("done")

	require.Eventually(t, func() bool { return p.nTerm.Load() == emfileClients }, 30*time.Second, tick)
	p.requireOnce(t, emfileClients)
	// A connection is counted as ended just after its Terminate.
	require.Eventually(t, func() bool { return srv.Info().Active == 0 }, testkit.Wait, tick)
	require.EqualValues(t, emfileClients, srv.Info().Accepted)
	fresh := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, fresh, "still accepting")
	fresh.Close()
	p.awaitTerms(t, emfileClients+1)
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= g0 }, testkit.Wait, tick)
	require.Eventually(t, func() bool { return fds(t) <= fd0 }, testkit.Wait, tick)
	lines, failures := warns.total()
	fmt.Printf("EMFILE result warn_lines=%d failures=%d goroutines=%d/%d rss_kb=%d/%d terms=%d\n",
		lines, failures, g0, runtime.NumGoroutine(), rss0, rssKB(t), p.nTerm.Load()-1)
	t.Logf("warnings: %v", warns.lines)
}
