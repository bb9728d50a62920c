package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/test/testkit"
)

// The dead-letter throttle of protoactor's actor system (one second by
// default) may still be counting down when the tests end: a reply whose
// caller has gone is a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// startKV runs kv on a free loopback port until the test ends, and checks
// then that it stopped cleanly and logged no error.
func startKV(t *testing.T, args ...string) *testkit.Example {
	t.Helper()
	ex := testkit.StartExample(t, run, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	t.Cleanup(func() {
		ex.Stop(t)
		assert.NotContains(t, ex.Stderr.String(), "level=ERROR")
	})
	return ex
}

// tool returns the path of a Redis tool, or skips the test when it is not
// installed.
func tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian: apt-get install redis-tools; .ci/run installs it): skipping", name)
	}
	return path
}

// cli runs redis-cli against addr with one command and returns what it
// printed (stdout and stderr), without the last newline. Replies are
// printed with --no-raw: "OK", "\"v\"", "(nil)", "(integer) 1",
// "(error) ERR ...", "1) ..." for arrays.
func cli(t testing.TB, addr string, args ...string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, "redis-cli"), append([]string{"-h", host, "-p", port, "--no-raw"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "redis-cli %q: %s", args, out)
	return strings.TrimSuffix(string(out), "\n")
}

// redisServer starts a real redis-server on a free loopback port, or
// skips the test when it is not installed. It returns its address.
func redisServer(t testing.TB) string {
	t.Helper()
	bin := tool(t, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "redis.log"))
	require.NoError(t, err)
	defer logf.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		reply, err := exchange(c, "PING\r\n", len("+PONG\r\n"))
		return err == nil && reply == "+PONG\r\n"
	}, 20*time.Second, 10*time.Millisecond, "redis-server did not answer PING")
	return addr
}

// dial connects to addr with a deadline for the whole test.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	return c
}

// exchange writes req in one write and reads n bytes of reply.
func exchange(c net.Conn, req string, n int) (string, error) {
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	return string(b), err
}

// requireClosed checks that the server closed c, having sent nothing
// more.
func requireClosed(t testing.TB, c net.Conn) {
	t.Helper()
	rest, err := io.ReadAll(c)
	require.NoError(t, err, "the server should close the connection")
	require.Empty(t, string(rest), "nothing more after the reply")
}

// req encodes args as a RESP array of bulk strings.
func req(args ...string) string {
	var b bytes.Buffer
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

func TestRunFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-max-bulk", "0"},
		{"-max-query", "1000"},
		{"-shards", "0"},
		{"-expire-interval", "0s"},
		{"-event-loops", "-1"},
		{"extra"},
		{"-addr", "127.0.0.1:notaport"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), args, io.Discard, &stderr)
		assert.Error(t, err, "%q", args)
	}
}

// TestStopClosesClients: stopping the server closes the connections of
// its clients, and run returns nil.
func TestStopClosesClients(t *testing.T) {
	for name, loops := range map[string]string{"event-loop": "1", "goroutines": "0"} {
		t.Run(name, func(t *testing.T) { testStopClosesClients(t, loops) })
	}
}

func testStopClosesClients(t *testing.T, loops string) {
	profile := filepath.Join(t.TempDir(), "cpu.pprof")
	ex := testkit.StartExample(t, run, "-addr", "127.0.0.1:0", "-cpuprofile", profile, "-event-loops", loops)
	c := dial(t, ex.Addr)
	reply, err := exchange(c, req("SET", "k", "v"), len("+OK\r\n"))
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", reply)
	ex.Stop(t)
	requireClosed(t, c)
	st, err := os.Stat(profile)
	require.NoError(t, err)
	assert.Positive(t, st.Size(), "the CPU profile was written")
}
