package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/transport"
)

// Every etcpctl invocation runs as a process of its own, as a user runs
// it: the test binary again, with envArgs set (init below hands them to
// run). The node it supervises runs in the test's process, whose only
// protoactor remote it is.
const envArgs = "ETCPCTL_TEST_ARGS"

func init() {
	a := os.Getenv(envArgs)
	if a == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(a), &args); err != nil {
		panic(err)
	}
	main2(args)
}

// main2 is main with args.
func main2(args []string) {
	os.Args = append([]string{"etcpctl"}, args...)
	main()
	os.Exit(0)
}

// The dead-letter throttle of protoactor's actor system (one second by
// default, as the example runs it) may still be counting down when the
// tests end: a replied request whose caller has gone is a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// line is the managed servers' handler: it greets with "hello", echoes
// lines, answers calls with the request's type and value (an error for
// "fail"), and records Terminate's reason.
type line struct {
	behaviours.Base
	lines int
	ended chan<- string
}

type lineState struct{ Lines int }

func (*line) Init(behaviours.Conn, any) behaviours.Result { return behaviours.Send([]byte("hello")) }

func (h *line) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.lines++
	return behaviours.Send(p)
}

func (h *line) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	if req == "fail" {
		return behaviours.Reply(errors.New("no such thing"))
	}
	return behaviours.Reply(fmt.Sprintf("%T:%s", req, req))
}

func (h *line) State() any { return lineState{h.lines} }

func (h *line) Terminate(_ behaviours.Conn, reason error) error {
	if h.ended != nil {
		h.ended <- fmt.Sprint(reason)
	}
	return reason
}

// managed is a node serving the endpoint, with servers srv and spare.
type managed struct {
	node       *registry.Node
	srv, spare *server.Server
	ended      chan string
}

func startManaged(t *testing.T) *managed { t.Helper(); return startManagedLogging(t, nil) }

// startManagedLogging is startManaged with the actor system logging to
// logger.
func startManagedLogging(t *testing.T, logger *slog.Logger) *managed {
	t.Helper()
	m := &managed{ended: make(chan string, 64)}
	sys := actors.NewSystem(logger, actor.WithDeadLetterThrottleInterval(time.Millisecond))
	var err error
	m.node, err = registry.StartNode(sys)
	require.NoError(t, err)
	factory := func() behaviours.Handler { return &line{ended: m.ended} }
	sock := actors.WithSocket(transport.WithFramer(transport.Line()))
	m.srv, err = server.Start(sys, factory, nil, "127.0.0.1:0", server.WithName("srv"), sock)
	require.NoError(t, err)
	m.spare, err = server.Start(sys, factory, nil, "127.0.0.1:0", server.WithName("spare"), sock, server.WithAcceptors(2))
	require.NoError(t, err)
	ep, err := manage.Enable(m.node, manage.WithServers(m.srv, m.spare), manage.WithActions())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.srv.Stop(ctx, nil)
		_ = m.spare.Stop(ctx, nil)
		_ = ep.Close()
		m.node.Shutdown()
		sys.Shutdown()
	})
	return m
}

// peer is a line client of a managed server.
type peer struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *peer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	p := &peer{c, bufio.NewReader(c)}
	require.Equal(t, "hello", p.line(t))
	return p
}

func (p *peer) line(t *testing.T) string {
	t.Helper()
	require.NoError(t, p.SetReadDeadline(time.Now().Add(10*time.Second)))
	l, err := p.r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(l, "\n")
}

func (p *peer) say(t *testing.T, s string) {
	t.Helper()
	_, err := p.Write([]byte(s + "\n"))
	require.NoError(t, err)
	require.Equal(t, s, p.line(t))
}

// proc is an etcpctl process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
	code           int
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs etcpctl with args in a process of its own.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	a, err := json.Marshal(args)
	require.NoError(t, err)
	p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^$"), stdout: &lockedBuffer{}, stderr: &lockedBuffer{},
		done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), envArgs+"="+string(a), "GORACE=atexit_sleep_ms=0")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to end and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("etcpctl did not end; stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	}
	return p.code
}

// ctl runs etcpctl -node NODE with args and returns its stdout, requiring
// exit status 0.
func ctl(t *testing.T, node string, args ...string) string {
	t.Helper()
	p := start(t, append([]string{"-node", node}, args...)...)
	require.Zero(t, p.wait(t), "etcpctl %v\nstdout:\n%s\nstderr:\n%s", args, p.stdout, p.stderr)
	return p.stdout.String()
}

// fails runs etcpctl and returns its exit status and stderr.
func fails(t *testing.T, args ...string) (int, string) {
	t.Helper()
	p := start(t, args...)
	return p.wait(t), p.stderr.String()
}

// rows reads a table: its header's columns, and each row by column name.
func rows(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.NotEmpty(t, lines)
	header := strings.Fields(lines[0])
	var out2 []map[string]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != len(header) {
			continue // a summary line
		}
		r := map[string]string{}
		for i, h := range header {
			r[h] = f[i]
		}
		out2 = append(out2, r)
	}
	return out2
}

// Usage errors come before any node starts: exit status 2.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"servers"},
		{"-node", "127.0.0.1:1"},
		{"-node", "127.0.0.1:1", "frobnicate"},
		{"-nonsense"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		assert.ErrorIs(t, err, errUsage, "%v", args)
	}
	assert.ErrorIs(t, run(context.Background(), []string{"-h"}, io.Discard, io.Discard), flag.ErrHelp)
	assert.Equal(t, "512B", size(512))
	assert.Equal(t, "1.5KiB", size(1536))
	assert.Equal(t, "3.0MiB", size(3<<20))
	assert.Equal(t, "250ms", ago(250*time.Millisecond))
	assert.Equal(t, "2m3s", ago(123*time.Second))
}

// alone runs the test in a process of its own (the test binary again,
// running only this test), where its node is the only protoactor remote:
// a remote started after another's gRPC goroutines ran races with them on
// gRPC's global logger (remote.Start sets it), as with go test -count=2.
func alone(t *testing.T) bool {
	if os.Getenv("ETCPCTL_TEST_ALONE") != "" {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), "ETCPCTL_TEST_ALONE=1", "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	return true
}

// Every command, against a node of the test's (in a process of its own),
// each etcpctl a process of its own.
func TestCommands(t *testing.T) {
	if alone(t) {
		return
	}
	m := startManaged(t)
	node := m.node.Address()
	busy, quiet := dial(t, m.srv.Addr().String()), dial(t, m.srv.Addr().String())
	for range 5 {
		busy.say(t, "some traffic")
	}
	quiet.say(t, "x")

	out := ctl(t, node, "hello")
	assert.Contains(t, out, "srv,spare")

	servers := rows(t, ctl(t, node, "servers"))
	require.Len(t, servers, 2)
	assert.Equal(t, "srv", servers[0]["SERVER"])
	assert.Equal(t, m.srv.Addr().String(), servers[0]["ADDR"])
	assert.Equal(t, "accepting", servers[0]["MODE"])
	assert.Equal(t, "2", servers[0]["ACTIVE"])
	var js []manage.Server
	require.NoError(t, json.Unmarshal([]byte(ctl(t, node, "-json", "servers")), &js))
	require.Len(t, js, 2)
	assert.Equal(t, int64(2), js[0].Accepted)

	assert.Len(t, rows(t, ctl(t, node, "acceptors", "spare")), 2)
	out = ctl(t, node, "clients")
	assert.Contains(t, out, "0 of 0 matched")

	conns := rows(t, ctl(t, node, "conns", "-sort", "bytes", "-n", "1"))
	require.Len(t, conns, 1)
	assert.Equal(t, busy.LocalAddr().String(), conns[0]["PEER"])
	assert.Equal(t, "5", conns[0]["FRAMES-IN"])
	target := conns[0]["CONN"]
	assert.Regexp(t, `^srv/\d+$`, target)
	var list manage.ConnList
	require.NoError(t, json.Unmarshal([]byte(ctl(t, node, "-json", "conns", "-peer", quiet.LocalAddr().String())), &list))
	require.Len(t, list.Conns, 1)
	assert.Equal(t, uint64(2), list.Conns[0].BytesIn)

	out = ctl(t, node, "inspect", target)
	assert.Contains(t, out, "main.lineState {Lines:5}")
	assert.Contains(t, out, busy.LocalAddr().String())

	assert.Contains(t, ctl(t, node, "call", target, "ping"), "string:ping (string)")
	assert.Contains(t, ctl(t, node, "call", "-bytes", target, "ping"), "[]uint8:ping (string)")
	assert.Contains(t, ctl(t, node, "cast", target, "note"), "cast to "+target)
	// A failed call's error is its result, on stdout, and the exit says so.
	failed := start(t, "-node", node, "call", target, "fail")
	assert.Equal(t, 1, failed.wait(t))
	assert.Equal(t, "error: no such thing\n", failed.stdout.String())
	assert.Empty(t, failed.stderr.String())

	assert.Contains(t, ctl(t, node, "hibernate", target), "hibernated")
	require.Eventually(t, func() bool { return m.srv.Info().Conns.Passivated == 1 }, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, ctl(t, node, "wake", "-conn", target), "woke")
	assert.Zero(t, m.srv.Info().Conns.Passivated)

	// trace streams until -n events: the connection's own, not the
	// acknowledgement of tracing turned on.
	tr := start(t, "-node", node, "trace", "-n", "1", target)
	require.Eventually(t, func() bool { return strings.Contains(tr.stderr.String(), "tracing ") }, 10*time.Second, 5*time.Millisecond)
	busy.say(t, "traced")
	require.Zero(t, tr.wait(t), tr.stderr.String())
	assert.Regexp(t, `^\S+ packet-in 6 bytes "traced"\n$`, tr.stdout.String())
	assert.Contains(t, tr.stderr.String(), "ended: etcp/manage: stream ended: 1 events")
	assert.Contains(t, ctl(t, node, "trace", "-on", target), "on")
	busy.say(t, "kept")
	assert.Contains(t, ctl(t, node, "inspect", target), `"kept"`)
	assert.Contains(t, ctl(t, node, "trace", "-off", target), "off")

	out = ctl(t, node, "top", "-n", "5", "-interval", "10ms", "-count", "2")
	assert.Equal(t, 2, strings.Count(out, clearScreen))
	assert.Contains(t, out, "etcpctl top")

	assert.Contains(t, ctl(t, node, "limit", "srv", "5"), "limited to 5")
	assert.Equal(t, 5, m.srv.Info().MaxConnections)
	assert.Contains(t, ctl(t, node, "sleep", "srv"), "not accepting")
	mode, _ := m.srv.Mode()
	assert.Equal(t, server.ModeSleeping, mode)
	assert.Contains(t, ctl(t, node, "wake", "srv"), "accepting")

	assert.Contains(t, ctl(t, node, "stop", "-reason", "enough", target), "stopped "+target)
	assert.Equal(t, "enough", <-m.ended)

	sp := dial(t, m.spare.Addr().String())
	assert.Contains(t, ctl(t, node, "stop", "-server", "spare", "-reason", "maintenance"), "stopped server spare")
	assert.Equal(t, "maintenance", <-m.ended)
	_, err := sp.r.ReadString('\n')
	assert.Error(t, err)

	// One connection stays open: its count is printed once, then the end.
	out = ctl(t, node, "drain", "-grace", "1s", "srv")
	assert.Equal(t, 1, strings.Count(out, "draining srv: 1 connections left"), out)
	assert.Equal(t, 2, strings.Count(out, "\n"), out)
	assert.Contains(t, out, "drained srv")
	assert.Contains(t, out, "the grace passed")
	<-m.srv.Done()

	// Errors: exit status 1 with the reason; usage: 2.
	code, stderr := fails(t, "-node", node, "inspect", "srv/999")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not found")
	code, stderr = fails(t, "-node", node, "limit", "srv")
	assert.Equal(t, 2, code, stderr)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, l.Close())
	code, stderr = fails(t, "-node", l.Addr().String(), "servers")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unreachable")
}
