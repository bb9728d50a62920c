package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The redis test runs Debian's redis-benchmark against side A (by default
// ./examples/kv) and side B (by default a redis-server the tool starts),
// alternating as the echo tests do, once per command and pipeline depth:
//
//	redis-benchmark -h 127.0.0.1 -p PORT -c CONNS -n N [-P DEPTH] -t CMD --csv
//
// with -conns clients (default 50), N = -redis-requests × DEPTH requests,
// and redis-benchmark's own key and value defaults. Figures per command and
// depth: requests per second as redis-benchmark reports it, and the
// server's CPU time (utime + stime from /proc, see cpu.go) over the whole
// redis-benchmark run divided by N. redis-benchmark is part of the load
// generator: it inherits the generator's lowered priority (priority.go).
// It stops on the first error reply, and hangs when it cannot connect, so
// each run is bounded in time and fails if the server exits meanwhile.

// defaultRedisCommands are the commands measured, in the order they run
// (SET before GET, so that GET finds a value).
const defaultRedisCommands = "ping,set,get,incr,mset"

// redisBenchTest maps a -redis-commands name to redis-benchmark's -t
// name: PING is measured in its RESP (multi-bulk) form, as clients send it.
func redisBenchTest(cmd string) string {
	if cmd == "ping" {
		return "ping_mbulk"
	}
	return cmd
}

// redisFigures returns one figure per pipeline depth and command.
func redisFigures(commands []string, depths []int) []*figure {
	var out []*figure
	for _, p := range depths {
		for _, c := range commands {
			key, label := "redis_"+c, "redis "+strings.ToUpper(c)
			if p > 1 {
				key += fmt.Sprintf("_p%d", p)
				label += fmt.Sprintf(" P%d", p)
			}
			out = append(out, &figure{
				name: "redis",
				rows: []row{
					{key, label + " rq/s", "requests/s"},
					{key + "_cpu", label + " CPU µs/rq", "server CPU µs/request"},
				},
				run: redisRunner(c, p),
			})
		}
	}
	return out
}

// redisRunner measures one command at one pipeline depth on a server.
func redisRunner(cmd string, depth int) func(context.Context, *config, *server) ([]float64, error) {
	return func(ctx context.Context, cfg *config, s *server) ([]float64, error) {
		n := cfg.redisRequests * depth
		_, port, err := net.SplitHostPort(s.addr)
		if err != nil {
			return nil, err
		}
		args := []string{"-h", "127.0.0.1", "-p", port, "-c", strconv.Itoa(cfg.conns),
			"-n", strconv.Itoa(n), "-t", redisBenchTest(cmd), "--csv"}
		if depth > 1 {
			args = append(args, "-P", strconv.Itoa(depth))
		}
		cpu0, cpuErr := cpuTime(s.pid())
		out, err := runRedisBenchmark(ctx, s, args, redisBenchTimeout(n))
		if err != nil {
			return nil, s.failure(err)
		}
		cpu1, err := cpuTime(s.pid())
		cpu := cpu1 - cpu0
		if cpuErr != nil || err != nil {
			cpu = -1
		}
		rows, err := parseBenchmarkCSV(out)
		if err != nil {
			return nil, fmt.Errorf("redis-benchmark %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		if len(rows) != 1 {
			return nil, fmt.Errorf("redis-benchmark %s: %d result rows, want 1\n%s", strings.Join(args, " "), len(rows), out)
		}
		return []float64{rows[0].rps, perOp(cpu, int64(n))}, nil
	}
}

// redisBenchTimeout bounds one redis-benchmark run of n requests: a
// minute, plus 100 µs per request (a run slower than 10,000 requests/s).
func redisBenchTimeout(n int) time.Duration {
	return time.Minute + time.Duration(n)*100*time.Microsecond
}

// runRedisBenchmark runs redis-benchmark with args and returns its stdout.
// It fails if redis-benchmark fails, takes longer than timeout, or if the
// server exits meanwhile.
func runRedisBenchmark(ctx context.Context, s *server, args []string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// redis-benchmark keeps waiting for a server that has gone: end it.
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 4 << 10}
	cmd := exec.CommandContext(ctx, "redis-benchmark", args...)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	switch {
	case err == nil:
		return stdout.Bytes(), nil
	case errors.Is(err, exec.ErrNotFound):
		return nil, fmt.Errorf("redis-benchmark not found: install redis-tools (apt-get install redis-tools): %w", err)
	case ctx.Err() != nil && s.exited() == nil:
		err = fmt.Errorf("no result within %v: %w", timeout, ctx.Err())
	}
	return nil, fmt.Errorf("redis-benchmark %s: %w\n%s%s", strings.Join(args, " "), err,
		stdout.String(), strings.TrimSpace(stderr.String()))
}

// benchRow is one result line of redis-benchmark --csv.
type benchRow struct {
	test string  // e.g. "PING_MBULK", "MSET (10 keys)"
	rps  float64 // requests per second
}

// parseBenchmarkCSV parses redis-benchmark --csv output: a header line
// starting with "test","rps", then one line per test. Lines before the
// header (warnings) are skipped; an "Error from server" line fails.
func parseBenchmarkCSV(out []byte) ([]benchRow, error) {
	var rows []benchRow
	header := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "Error from server") {
			return nil, errors.New(line)
		}
		if !header {
			header = strings.HasPrefix(line, `"test","rps"`)
			continue
		}
		if line == "" {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("line %q: %d fields", line, len(rec))
		}
		rps, err := strconv.ParseFloat(rec[1], 64)
		if err != nil || rps <= 0 {
			return nil, fmt.Errorf("line %q: bad rps", line)
		}
		rows = append(rows, benchRow{test: rec[0], rps: rps})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !header {
		return nil, errors.New(`no "test","rps" header`)
	}
	return rows, nil
}

// redisReadyPoll is how often startRedisServer asks for PONG.
const redisReadyPoll = 20 * time.Millisecond

// startRedisServer starts argv, a redis-server, on a free port of
// 127.0.0.1 without persistence (the options come before argv's own, which
// may override them), and returns once it answers PING. The port is
// found free just before (listen on port 0, close); if redis-server exits
// anyway, as when another process took the port meanwhile, it is tried
// again with another port, three times at most.
func startRedisServer(ctx context.Context, name string, argv []string, startTimeout time.Duration, start func(*exec.Cmd) error) (*server, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var port int
		if port, err = freePort(); err != nil {
			return nil, err
		}
		full := append(append([]string{argv[0]}, redisServerArgs(strconv.Itoa(port))...), argv[1:]...)
		var s *server
		if s, err = spawn(name, full, nil, start); err != nil {
			return nil, err
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = awaitPong(ctx, s, startTimeout); err == nil {
			s.readBaseRSS()
			return s, nil
		}
		_ = s.stop()
		err = fmt.Errorf("server %s (%s): waiting for PONG: %w%s", name, strings.Join(full, " "), err, s.stderrTail())
		if s.exited() == nil || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// redisServerArgs are the options startRedisServer gives redis-server.
func redisServerArgs(port string) []string {
	return []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// awaitPong asks s for PING every redisReadyPoll until it answers +PONG.
// Nothing announces that redis-server listens (its log lines are not a
// contract), so this polls.
func awaitPong(ctx context.Context, s *server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = ping(s.addr, redisReadyPoll*5); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %v: %w", timeout, last)
		}
		t := time.NewTimer(redisReadyPoll)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return fmt.Errorf("exited: %v (last: %v)", s.waitErr, last)
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// ping sends one RESP PING to addr and expects +PONG.
func ping(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// parseDepths parses -redis-pipeline.
func parseDepths(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := strconv.Atoi(f)
		if err != nil || p < 1 {
			return nil, fmt.Errorf("-redis-pipeline: bad depth %q", f)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-redis-pipeline: no depth")
	}
	return out, nil
}

// parseRedisCommands parses -redis-commands.
func parseRedisCommands(list string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(list, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" || slices.Contains(out, f) {
			continue
		}
		if strings.ContainsAny(f, " \t") {
			return nil, fmt.Errorf("-redis-commands: bad command %q", f)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, errors.New("-redis-commands: no command")
	}
	return out, nil
}
