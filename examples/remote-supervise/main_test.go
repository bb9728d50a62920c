package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The dead-letter throttle of protoactor's actor system (one second by
// default, as the example runs it) may still be counting down when the
// tests end: a replied request whose caller has gone is a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

const wait = 15 * time.Second

// gateway is run in the background; its stdout lines are collected.
type gateway struct {
	addr, node string
	mu         sync.Mutex
	lines      []string
	cancel     context.CancelFunc
	done       chan error
}

func startGateway(t *testing.T, extra ...string) *gateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	g := &gateway{cancel: cancel, done: make(chan error, 1)}
	go func() {
		args := append([]string{"-addr", "127.0.0.1:0", "-manage", "127.0.0.1:0", "-grace", "100ms"}, extra...)
		err := run(ctx, args, pw, io.Discard)
		pw.Close()
		g.done <- err
	}()
	sc := bufio.NewScanner(pr)
	for g.node == "" && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "listening":
			g.addr = v
		case "manage":
			g.node = v
		}
	}
	require.NotEmpty(t, g.node)
	go func() {
		for sc.Scan() {
			g.mu.Lock()
			g.lines = append(g.lines, sc.Text())
			g.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(wait):
		}
	})
	return g
}

// all is every line the gateway printed after its first two.
func (g *gateway) all() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.lines...)
}

// printed reports whether the gateway printed line.
func (g *gateway) printed(line string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.lines {
		if l == line {
			return true
		}
	}
	return false
}

// buildEtcpctl builds examples/etcpctl into a temporary directory.
func buildEtcpctl(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build etcpctl with")
	}
	bin := filepath.Join(t.TempDir(), "etcpctl")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, "../etcpctl")...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// peer is a device connected to the gateway.
type peer struct {
	net.Conn
	r *bufio.Reader
}

func connect(t *testing.T, addr string) *peer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &peer{c, bufio.NewReader(c)}
}

func (p *peer) read(t *testing.T, d time.Duration) (string, error) {
	t.Helper()
	require.NoError(t, p.SetReadDeadline(time.Now().Add(d)))
	l, err := p.r.ReadString('\n')
	return strings.TrimSuffix(l, "\n"), err
}

func (p *peer) say(t *testing.T, s, want string) {
	t.Helper()
	_, err := p.Write([]byte(s + "\n"))
	require.NoError(t, err)
	got, err := p.read(t, wait)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// An operator supervises the gateway with etcpctl, a separate process,
// as a user would: lists its connections, inspects one, stops it, sleeps
// and wakes its acceptors, and drains it.
func TestSuperviseWithEtcpctl(t *testing.T) {
	if alone(t) {
		return
	}
	etcpctl := buildEtcpctl(t)
	g := startGateway(t)
	ctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(etcpctl, append([]string{"-node", g.node}, args...)...)
		cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "etcpctl %v: %s", args, out)
		t.Logf("$ etcpctl -node %s %s\n%s", g.node, strings.Join(args, " "), out)
		return string(out)
	}

	// Three devices; the sensor talks most.
	devices := map[string]*peer{}
	for i, name := range []string{"sensor", "door", "lamp"} {
		p := connect(t, g.addr)
		got, err := p.read(t, wait)
		require.NoError(t, err)
		require.Equal(t, "welcome", got)
		p.say(t, "login "+name, "ok 1")
		for n := range 3 - i {
			p.say(t, "reading", "ok "+string(rune('2'+n)))
		}
		devices[name] = p
	}

	out := ctl("conns", "-sort", "bytes")
	table := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(table), 4, out)
	assert.Regexp(t, `^CONN\s+KIND\s+PEER\s+STATE`, table[0])
	assert.Contains(t, table[1], devices["sensor"].LocalAddr().String(), "the busiest first")
	assert.Contains(t, out, "3 of 3 matched, of 3")
	sensor := strings.Fields(table[1])[0]
	require.Regexp(t, `^gateway/\d+$`, sensor)

	out = ctl("inspect", sensor)
	assert.Contains(t, out, "main.deviceState {Name:sensor Lines:4}")
	assert.Contains(t, ctl("call", "name:door", "whoami"), "door (string)")

	// Stop the sensor: its peer sees the close, its Terminate the reason.
	ctl("stop", "-reason", "kicked by the operator", sensor)
	_, err := devices["sensor"].read(t, wait)
	assert.ErrorIs(t, err, io.EOF)
	id := strings.TrimPrefix(sensor, "gateway/")
	require.Eventually(t, func() bool { return g.printed("ended " + id + ": kicked by the operator") },
		wait, 5*time.Millisecond)
	assert.NotContains(t, ctl("conns"), devices["sensor"].LocalAddr().String())

	// Asleep, the gateway accepts no one: a new device connects (the
	// backlog holds it) but hears nothing, and the count stays.
	ctl("sleep", "gateway")
	assert.Regexp(t, regexp.MustCompile(`gateway\s+\S+\s+sleeping\s+2\s+1024\s+3\s`), ctl("servers"))
	late := connect(t, g.addr)
	_, err = late.read(t, 300*time.Millisecond)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "not accepted while asleep")
	assert.Regexp(t, regexp.MustCompile(`gateway\s+\S+\s+sleeping\s+2\s+1024\s+3\s`), ctl("servers"))
	ctl("wake", "gateway")
	got, err := late.read(t, wait)
	require.NoError(t, err)
	assert.Equal(t, "welcome", got, "accepted once awake")

	// Drain: the devices leave while the gateway waits for them; once the
	// last has gone it stops, and the process's run returns.
	drain := exec.Command(etcpctl, "-node", g.node, "drain", "-grace", "10s", "gateway")
	drain.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	var drainErr strings.Builder
	drain.Stderr = &drainErr
	stdout, err := drain.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, drain.Start())
	killer := time.AfterFunc(wait, func() { _ = drain.Process.Kill() })
	defer killer.Stop()
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "a progress line; stderr: %s", &drainErr)
	assert.Regexp(t, `^draining gateway: 3 connections left`, sc.Text())
	for _, p := range []*peer{devices["door"], devices["lamp"], late} {
		require.NoError(t, p.Close())
	}
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	require.NoError(t, drain.Wait(), "%s", &drainErr)
	require.NotEmpty(t, rest)
	assert.Regexp(t, `^drained gateway in .*: all connections ended; server stopped$`, rest[len(rest)-1])
	require.Eventually(t, func() bool { return g.printed("stopped") }, wait, 5*time.Millisecond)
	assert.Regexp(t, regexp.MustCompile(`gateway\s+\S+\s+closed\s+0\s`), ctl("servers"))
	g.cancel()
	select {
	case err := <-g.done:
		assert.NoError(t, err)
		g.done <- err
	case <-time.After(wait):
		t.Fatal("run did not return")
	}
}

// With -demo 3 the gateway dials three devices to itself, named as the
// README's transcript shows them, which keep sending readings; on SIGTERM
// they are closed first, so the drain does not wait for them.
func TestDemo(t *testing.T) {
	if alone(t) {
		return
	}
	etcpctl := buildEtcpctl(t)
	g := startGateway(t, "-demo", "3", "-demo-every", "10ms", "-grace", "1m")
	ctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(etcpctl, append([]string{"-node", g.node}, args...)...)
		cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "etcpctl %v: %s", args, out)
		return string(out)
	}
	assert.Contains(t, ctl("conns"), "3 of 3 matched, of 3")
	for _, name := range []string{"sensor-1", "door-2", "thermostat-3"} {
		assert.Contains(t, ctl("call", "name:"+name, "whoami"), name+" (string)")
	}
	// They keep talking: the thermostat's line count grows past its login
	// and first reading.
	talking := regexp.MustCompile(`Name:thermostat-3 Lines:([3-9]|\d\d+)\}`)
	var last string
	for deadline := time.Now().Add(wait); !talking.MatchString(last); {
		if time.Now().After(deadline) {
			t.Fatalf("thermostat-3 stopped talking; last inspect:\n%s\ngateway printed %q", last, g.all())
		}
		cmd := exec.Command(etcpctl, "-node", g.node, "inspect", "name:thermostat-3")
		cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		last = string(out)
	}

	began := time.Now()
	g.cancel()
	select {
	case err := <-g.done:
		assert.NoError(t, err)
		g.done <- err
	case <-time.After(wait):
		t.Fatal("run did not return")
	}
	assert.Less(t, time.Since(began), 30*time.Second, "the devices did not hold the one-minute drain up")
	// Each device's connection ends, and Terminate prints why (normal when
	// the device hung up first, the stop's reason when the drain came first).
	for i := 1; i <= 3; i++ {
		require.Eventually(t, func() bool { return strings.Contains(strings.Join(g.all(), "\n"), fmt.Sprintf("ended %d: ", i)) }, wait, 5*time.Millisecond,
			"device %d: the gateway printed %q", i, g.all())
	}
}

func TestDemoFlags(t *testing.T) {
	for _, args := range [][]string{{"-demo", "-1"}, {"-demo", "2", "-demo-every", "0s"}} {
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0", "-manage", "127.0.0.1:0"}, args...), io.Discard, io.Discard)
		assert.ErrorContains(t, err, "want -demo ≥ 0", "%q", args)
	}
	assert.Equal(t, "sensor-1", demoName(1))
	assert.Equal(t, "door-2", demoName(2))
	assert.Equal(t, "thermostat-3", demoName(3))
	assert.Equal(t, "sensor-4", demoName(4))
}

// alone runs the test in a process of its own (the test binary again,
// running only this test), where its node is the only protoactor remote:
// a remote started after another's gRPC goroutines ran races with them on
// gRPC's global logger (remote.Start sets it), as with go test -count=2.
func alone(t *testing.T) bool {
	if os.Getenv("REMOTE_SUPERVISE_TEST_ALONE") != "" {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), "REMOTE_SUPERVISE_TEST_ALONE=1", "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
	return true
}
