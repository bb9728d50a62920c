package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/test/testkit"
)

// The dead-letter throttle of protoactor's actor system (one second by
// default) may still be counting down when the tests end: a reply whose
// caller has gone is a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// redisServer is a redis-server process on a fixed loopback port and data
// directory, so it can be killed and started again with its data.
type redisServer struct {
	t      *testing.T
	bin    string
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
}

// newRedis starts redis-server on a free loopback port, or skips the test
// when it is not installed.
func newRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it): skipping the Redis tests")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	r := &redisServer{t: t, bin: bin, dir: t.TempDir(), port: port}
	r.start()
	t.Cleanup(func() {
		if r.cmd != nil {
			r.kill()
		}
	})
	return r
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// start runs redis-server with an append-only file fsynced on every
// write, so every acknowledged SET survives a SIGKILL, and waits until it
// answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	require.Nil(r.t, r.cmd, "redis-server already running")
	logf, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(r.t, err)
	defer logf.Close()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(r.t, cmd.Start())
	r.cmd, r.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(r.exited)
	ok := assert.Eventually(r.t, r.pong, 20*time.Second, 10*time.Millisecond, "redis-server did not answer PING")
	if !ok {
		log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
		r.t.Fatalf("redis-server log:\n%s", log)
	}
}

// pong reports whether the server answers PING (and is done loading).
func (r *redisServer) pong() bool {
	select {
	case <-r.exited:
		return false
	default:
	}
	c, err := net.DialTimeout("tcp", r.addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *redisServer) kill() {
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
	r.cmd = nil
}

func TestRun(t *testing.T) {
	r := newRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-addr", r.addr(), "-conns", "3", "-n", "300"}, &stdout, &stderr)
	require.NoError(t, err, "stderr: %s", stderr.String())
	assert.Empty(t, stderr.String())
	assert.Contains(t, stdout.String(), "pool of 3 connections to "+r.addr())
	assert.Contains(t, stdout.String(), "SET 300, GET 300, failed 0 ")
}

func TestRedisErrorsAndNulls(t *testing.T) {
	r := newRedis(t)
	sys := testkit.NewSystem(t)
	p, err := startPool(sys, r.addr(), 2, 5*time.Second, testkit.Discard)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Stop(context.Background(), nil)) }()
	db := kv{p}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, found, err := db.Get(ctx, "missing")
	require.NoError(t, err)
	assert.False(t, found)
	_, err = db.Do(ctx, "NOSUCHCOMMAND")
	var rerr RedisError
	require.ErrorAs(t, err, &rerr)
	assert.Contains(t, string(rerr), "unknown command")
	require.NoError(t, db.Set(ctx, "big", string(bytes.Repeat([]byte("x"), 100_000))))
	v, found, err := db.Get(ctx, "big")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Len(t, v, 100_000)
	_, err = db.Do(ctx, "RPUSH", "list", "a", "b")
	require.NoError(t, err)
	got, err := db.Do(ctx, "LRANGE", "list", "0", "-1")
	require.NoError(t, err)
	assert.Equal(t, []any{[]byte("a"), []byte("b")}, got)
}

// TestAcknowledgedSetsSurviveRestart writes keys through the pool while
// redis-server is killed (SIGKILL) and started again on the same port:
// the pool reconnects under its restart policy, every SET that failed is
// retried until acknowledged, and afterwards every acknowledged SET reads
// back.
func TestAcknowledgedSetsSurviveRestart(t *testing.T) {
	const keys, writers = 600, 4
	r := newRedis(t)
	sys := testkit.NewSystem(t)
	p, err := startPool(sys, r.addr(), writers, 2*time.Second, testkit.Discard)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Stop(context.Background(), nil)) }()
	db := kv{p}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, p.WaitUp(ctx, writers))

	var next, acked, failures atomic.Int64
	third := make(chan struct{})
	var once sync.Once
	var lost sync.Map // key → the last error, for SETs never acknowledged
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < keys; i = next.Add(1) - 1 {
				k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
				for {
					cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					err := db.Set(cctx, k, v)
					cancel()
					if err == nil {
						break
					}
					failures.Add(1) // retried: a SET that failed is never dropped
					if ctx.Err() != nil {
						lost.Store(k, err)
						break
					}
				}
				if acked.Add(1) == keys/3 {
					once.Do(func() { close(third) })
				}
			}
		})
	}

	<-third
	r.kill()
	require.Eventually(t, func() bool { return p.Live() == 0 }, 10*time.Second, time.Millisecond,
		"the pool's connections see the server go")
	r.start()
	require.NoError(t, p.WaitUp(ctx, writers), "the pool reconnects under its restart policy")
	wg.Wait()

	lost.Range(func(k, err any) bool {
		t.Errorf("SET %s never acknowledged: %v", k, err)
		return true
	})
	for _, c := range p.Connections() {
		assert.Equal(t, pool.StateUp, c.State)
		assert.Positive(t, c.Restarts, "connection %d", c.ID)
	}
	for i := range keys {
		v, found, err := db.Get(ctx, fmt.Sprintf("k%d", i))
		require.NoError(t, err)
		require.True(t, found, "k%d", i)
		require.Equal(t, fmt.Sprintf("v%d", i), v)
	}
	t.Logf("%d SETs acknowledged, %d failed attempts retried", acked.Load(), failures.Load())
}
