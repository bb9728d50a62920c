// Command load measures an echo server built on this library (side A)
// against a plain net goroutine-per-connection echo server (side B), a
// gnet echo server (side C) and an nbio echo server (side D), in one run,
// alternating A, B, C and D within every round; and, with -tests redis,
// the library's Redis example (examples/kv, side A) against redis-server
// (side B), and reference Redis-protocol servers on gnet, plain net or
// redcon (sides C and D, with -c and -d), with redis-benchmark.
//
// Usage (from anywhere inside the module):
//
//	go run ./test/load [flags]
//
// By default side A is ./examples/echo, built into a temporary directory with
// `go build` from the module root and run as `<tmp>/echo -addr 127.0.0.1:0`;
// side B is this very binary re-executed as `-serve plain -addr 127.0.0.1:0`;
// side C is ./test/load/gnetecho, a nested module of its own (so that gnet,
// nbio and redcon never become dependencies of the library), built with `go
// build` in its directory (this needs github.com/panjf2000/gnet/v2,
// github.com/lesismal/nbio and github.com/tidwall/redcon from the module
// proxy or the module cache) and run as `<tmp>/gnetecho -engine gnet -addr
// 127.0.0.1:0`; side D is the same program run as `<tmp>/nbioecho -engine
// nbio -addr 127.0.0.1:0` (nbio with its default pollers: NumCPU/4, at
// least one). -servers chooses among them. Each server runs as its own
// process: it must print `listening HOST:PORT` as its first stdout line,
// echo every byte back until the peer closes, and exit with status 0 on
// SIGTERM (checked every time a server is stopped). The host must be
// 127.0.0.1 (an unspecified host such as 0.0.0.0 is dialled as 127.0.0.1).
//
// Server lifetime: the throughput tests (pingpong, churn, redis) share one
// long-lived server per side, started once per run (and only if one of them
// is selected). The memory tests (idle, hold) start a fresh server process
// per side and round, take its VmRSS baseline right after it printed
// `listening`, and stop it with SIGTERM after the measurement, so that no
// heap left over from an earlier round or test inflates or hides the growth
// measured in the next one. The command must be the server binary itself
// (not a wrapper such as `go run`), since its PID is used to read VmRSS
// and CPU time.
//
// Flags:
//
//	-servers LIST    echo servers to measure, of etcp (A), net (B), gnet (C), nbio (D)
//	                 (default etcp,net,gnet,nbio); rounds always go A, B, C, D
//	-a CMD           side A server command, split on spaces (default: build ./examples/echo,
//	                 or ./examples/kv for -tests redis)
//	-a-args ARGS     extra arguments appended to A, split on spaces (e.g. "-framing 4")
//	-b CMD           side B server command (default: <self> -serve plain -addr 127.0.0.1:0,
//	                 or redis-server for -tests redis); "none" measures without B (no
//	                 ratios); without -servers, "none" measures side A only
//	-c CMD           side C server command (default: build ./test/load/gnetecho); for
//	                 -tests redis: gnet, net or redcon, a reference server of that
//	                 module, or a command (default: no side C)
//	-c-args ARGS     extra arguments appended to C, split on spaces (e.g. "-multicore=false")
//	-d CMD           side D server command (default: build ./test/load/gnetecho, run with
//	                 -engine nbio); for -tests redis as -c (e.g. -d redcon)
//	-d-args ARGS     extra arguments appended to D, split on spaces
//	-rounds N        rounds; each round measures every test on A, then B, C and D
//	                 (default 5; 3 for -tests redis)
//	-duration D      measurement time per test, side and round (default 2s)
//	-warmup D        uncounted warm-up before each measurement (default 200ms)
//	-conns N         ping-pong connections, and redis-benchmark clients (default 50)
//	-size N          message size in bytes (default 64)
//	-workers N       churn workers (default 20)
//	-idle-conns N    connections held open by the idle test (default 5000)
//	-idle-settle D   wait after opening the idle or hold connections before sampling VmRSS (default 500ms)
//	-hold-conns N    connections held by the hold test (default 19000)
//	-hold-sources N  dial the hold connections from 127.0.0.1..127.0.0.N (default 0: only
//	                 when -hold-conns does not fit in net.ipv4.ip_local_port_range)
//	-timeout D       deadline for every dial, read and write (default 5s)
//	-tests LIST      comma-separated tests: pingpong, churn, idle, hold, or redis alone
//	                 (default pingpong,churn)
//	-nice N          run the load generator N nice levels below the servers (default 10;
//	                 0: same priority); see priority.go
//	-redis-commands LIST  redis-benchmark tests (default ping,set,get,incr,mset)
//	-redis-pipeline LIST  pipeline depths, redis-benchmark -P (default 1,16)
//	-redis-requests N     requests per redis-benchmark run, times the depth (default 100000)
//	-json            also print a JSON object with every figure and ratio as the last line
//	-serve plain     run the plain baseline echo server instead (with -addr ADDR)
//
// Tests (figures):
//
//	pingpong  -conns connections, each writes -size bytes, reads them back and
//	          checks every byte; figures: round trips per second (total), and
//	          the server's CPU time per round trip (see below).
//	churn     -workers workers, each dials, echoes -size bytes once and closes;
//	          figures: connections per second, and server CPU per connection.
//	idle      on a fresh server, opens -idle-conns connections, one echo
//	          each, waits -idle-settle, then samples the server's VmRSS every
//	          100ms until two consecutive samples differ by less than 1% (at
//	          most 3s; the last sample is used); figure: (VmRSS then - VmRSS
//	          right after the server printed `listening`) / connections, in
//	          bytes per connection.
//	hold      on a fresh server, opens -hold-conns connections (200 dials at
//	          a time), one echo each, waits -idle-settle, reads VmRSS as idle
//	          does, then does one
//	          more echo on every connection; figures: connections that
//	          answered ("hold answered") and bytes per connection ("hold
//	          B/conn"). Any connection that does not answer fails the run
//	          after the table is printed. With -a-args "-hibernate" this checks
//	          that every hibernated connection wakes up and answers.
//	redis     side A (./examples/kv, or -a) against side B (redis-server,
//	          or -b), and sides C and D with -c and -d (e.g. -c gnet -d
//	          redcon), each a Redis-protocol server; for every command of
//	          -redis-commands and depth of -redis-pipeline, one run of
//	          redis-benchmark (Debian's redis-tools) with -conns clients;
//	          figures: requests per second as redis-benchmark reports them,
//	          and server CPU per request over the whole run. A command whose
//	          program is redis-server is started on a free port with
//	          `--port N --bind 127.0.0.1 --save '' --appendonly no` (then
//	          its own arguments) and is ready when it answers PING. See redis.go.
//
// Server CPU (the "CPU µs/..." rows) is utime + stime of the server process,
// all its threads, from /proc/PID/stat, read at the start and the end of the
// measurement window, divided by the operations counted in that window
// (cpu.go says why not /proc/PID/schedstat).
//
// Output: progress on stderr; on stdout a table with, per figure, the median
// over rounds and min/max for each side, and the ratio of every side but B
// to B (A/B, C/B, D/B), each the median (min, max) of the per-round ratios.
// Machines are shared and noisy: the ratio is the figure to report. Any
// wrong echoed byte, timeout or other I/O error fails the run with exit
// status 1; usage errors exit with status 2.
//
// File descriptors: the tool raises its soft RLIMIT_NOFILE to the hard limit
// (the servers inherit it); idle and hold need their connection count plus
// 256 spare descriptors in the tool and in each server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config holds the parsed flags.
type config struct {
	aCmd, aArgs, bCmd string
	cCmd, cArgs       string
	dCmd, dArgs       string
	servers           []string // of serverNames
	rounds            int
	duration, warmup  time.Duration
	conns, size       int
	workers           int
	idleConns         int
	idleSettle        time.Duration
	holdConns         int
	holdSources       int
	timeout           time.Duration
	tests             []*figure
	nice              int
	json              bool
	serve, addr       string

	redisMode     bool // -tests redis
	redisCommands []string
	redisDepths   []int
	redisRequests int

	log io.Writer // progress (stderr)
}

// figure is one measured test. New figures are added to the figures registry.
type figure struct {
	name string // name used in -tests
	rows []row  // table rows, one value each per side and round
	// fresh: run on a server process started for this side and round only
	// (memory figures), instead of the long-lived one.
	fresh bool
	// run measures one side once and returns one value per row. A
	// *checkError means the values are valid but the check failed: they are
	// reported and the run fails at the end.
	run func(ctx context.Context, cfg *config, s *server) ([]float64, error)
}

// row is one reported figure of a test.
type row struct {
	key   string // key in the JSON output
	label string // row label in the table
	unit  string
}

// single adapts a test that measures one value.
func single(f func(ctx context.Context, cfg *config, s *server) (float64, error)) func(context.Context, *config, *server) ([]float64, error) {
	return func(ctx context.Context, cfg *config, s *server) ([]float64, error) {
		v, err := f(ctx, cfg, s)
		if err != nil {
			return nil, err
		}
		return []float64{v}, nil
	}
}

// figures is the registry of known tests, in table order.
var figures = []*figure{
	{name: "pingpong", rows: []row{
		{"pingpong", "pingpong rt/s", "round trips/s"},
		{"pingpong_cpu", "pingpong CPU µs/rt", "server CPU µs/round trip"},
	}, run: runPingPong},
	{name: "churn", rows: []row{
		{"churn", "churn conn/s", "connections/s"},
		{"churn_cpu", "churn CPU µs/conn", "server CPU µs/connection"},
	}, run: runChurn},
	{name: "idle", rows: []row{{"idle", "idle B/conn", "bytes/connection"}}, fresh: true, run: single(runIdle)},
	{name: "hold", rows: []row{
		{"hold_answered", "hold answered", "connections"},
		{"hold", "hold B/conn", "bytes/connection"},
	}, fresh: true, run: runHold},
}

// checkError is a failed check whose figures are still reported.
type checkError struct{ err error }

func (e *checkError) Error() string { return e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }

const defaultTests = "pingpong,churn"

func lookupFigure(name string) *figure {
	for _, f := range figures {
		if f.name == name {
			return f
		}
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.aCmd, "a", "", "side A server command, split on spaces (default: build ./examples/echo, run with -addr 127.0.0.1:0)")
	fs.StringVar(&cfg.aArgs, "a-args", "", "extra arguments appended to the A command, split on spaces")
	fs.StringVar(&cfg.bCmd, "b", "", "side B server command (default: this binary with -serve plain -addr 127.0.0.1:0, or redis-server for -tests redis; \"none\": no B)")
	fs.StringVar(&cfg.cCmd, "c", "", "side C server command, split on spaces (default: build ./test/load/gnetecho, run with -engine gnet); for -tests redis: gnet, net, redcon or a command")
	fs.StringVar(&cfg.cArgs, "c-args", "", "extra arguments appended to the C command, split on spaces")
	fs.StringVar(&cfg.dCmd, "d", "", "side D server command, split on spaces (default: build ./test/load/gnetecho, run with -engine nbio); for -tests redis as -c")
	fs.StringVar(&cfg.dArgs, "d-args", "", "extra arguments appended to the D command, split on spaces")
	servers := fs.String("servers", defaultServers, "echo servers to measure: etcp (A), net (B), gnet (C), nbio (D)")
	fs.IntVar(&cfg.rounds, "rounds", 5, "number of rounds (each measures A, B, C, D in turn; default 3 for -tests redis)")
	fs.DurationVar(&cfg.duration, "duration", 2*time.Second, "measurement time per test, side and round")
	fs.DurationVar(&cfg.warmup, "warmup", 200*time.Millisecond, "uncounted warm-up before each measurement")
	fs.IntVar(&cfg.conns, "conns", 50, "ping-pong connections")
	fs.IntVar(&cfg.size, "size", 64, "message size in bytes")
	fs.IntVar(&cfg.workers, "workers", 20, "churn workers")
	fs.IntVar(&cfg.idleConns, "idle-conns", 5000, "connections held by the idle test")
	fs.DurationVar(&cfg.idleSettle, "idle-settle", 500*time.Millisecond, "wait before sampling VmRSS (until stable) in the idle and hold tests")
	fs.IntVar(&cfg.holdConns, "hold-conns", 19000, "connections held by the hold test")
	fs.IntVar(&cfg.holdSources, "hold-sources", 0, "source addresses 127.0.0.1..N for the hold test (0: as many as the ephemeral port range needs)")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "deadline for every dial, read and write")
	tests := fs.String("tests", defaultTests, "comma-separated tests: pingpong, churn, idle, hold; or redis alone")
	fs.IntVar(&cfg.nice, "nice", 10, "nice levels the load generator runs below the servers (0: same)")
	redisCommands := fs.String("redis-commands", defaultRedisCommands, "redis-benchmark tests for -tests redis, in order")
	redisDepths := fs.String("redis-pipeline", "1,16", "pipeline depths (redis-benchmark -P) for -tests redis")
	fs.IntVar(&cfg.redisRequests, "redis-requests", 100000, "requests per redis-benchmark run, times the pipeline depth")
	fs.BoolVar(&cfg.json, "json", false, "also print a JSON object with every figure and ratio as the last line")
	fs.StringVar(&cfg.serve, "serve", "", "run a server instead of measuring: plain")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "listen address for -serve")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.serve != "" {
		if cfg.serve != "plain" {
			return nil, fmt.Errorf("-serve %q: only \"plain\" is known", cfg.serve)
		}
		return cfg, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case cfg.rounds < 1:
		return nil, errors.New("-rounds must be >= 1")
	case cfg.duration <= 0:
		return nil, errors.New("-duration must be > 0")
	case cfg.warmup < 0:
		return nil, errors.New("-warmup must be >= 0")
	case cfg.conns < 1, cfg.workers < 1, cfg.idleConns < 1, cfg.holdConns < 1:
		return nil, errors.New("-conns, -workers, -idle-conns and -hold-conns must be >= 1")
	case cfg.size < 1:
		return nil, errors.New("-size must be >= 1")
	case cfg.timeout <= 0:
		return nil, errors.New("-timeout must be > 0")
	case cfg.holdSources < 0 || cfg.holdSources > 254:
		return nil, errors.New("-hold-sources must be in [0, 254]")
	case cfg.nice < 0 || cfg.nice > 39:
		return nil, errors.New("-nice must be in [0, 39]")
	case cfg.redisRequests < 1:
		return nil, errors.New("-redis-requests must be >= 1")
	}
	var err error
	if cfg.servers, err = parseServers(*servers); err != nil {
		return nil, err
	}
	// -b none without -servers keeps its meaning: side A only.
	if cfg.bCmd == "none" && !set["servers"] {
		cfg.servers = []string{"etcp"}
	}
	seen := map[string]bool{}
	for _, name := range strings.Split(*tests, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if name == "redis" {
			cfg.redisMode = true
			continue
		}
		f := lookupFigure(name)
		if f == nil {
			return nil, fmt.Errorf("-tests: unknown test %q", name)
		}
		cfg.tests = append(cfg.tests, f)
	}
	if cfg.redisMode {
		switch {
		case len(cfg.tests) > 0:
			return nil, errors.New("-tests: redis runs alone (its servers are not echo servers)")
		case set["servers"]:
			return nil, errors.New("-servers is for the echo tests; -tests redis runs A (-a), B (-b) and, with -c and -d, C and D")
		}
		if cfg.redisCommands, err = parseRedisCommands(*redisCommands); err != nil {
			return nil, err
		}
		if cfg.redisDepths, err = parseDepths(*redisDepths); err != nil {
			return nil, err
		}
		cfg.tests = redisFigures(cfg.redisCommands, cfg.redisDepths)
		if !set["rounds"] {
			cfg.rounds = 3
		}
	}
	if len(cfg.tests) == 0 {
		return nil, errors.New("-tests: no test selected")
	}
	return cfg, nil
}

// run is main without os.Exit, so that tests can call it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "cluster": // cluster.go
			return runClusterCmd(args[1:], stdout, stderr)
		case "holder":
			return runHolderCmd(args[1:], stdout, stderr)
		}
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return 2
	}
	if cfg.serve == "plain" {
		if err := servePlain(cfg.addr, stdout); err != nil {
			fmt.Fprintln(stderr, "load: serve plain:", err)
			return 1
		}
		return 0
	}
	if err := raiseNoFile(); err != nil {
		fmt.Fprintln(stderr, "load: warning: raising RLIMIT_NOFILE:", err)
	}
	if err := measure(cfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "load: FAIL:", err)
		return 1
	}
	return 0
}

// raiseNoFile sets the soft RLIMIT_NOFILE to the hard limit. Calling
// Setrlimit explicitly also makes the server processes inherit the raised
// limit.
func raiseNoFile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	return nil
}

func noFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}

// measure starts the long-lived servers, runs the rounds and prints the
// report.
func measure(cfg *config, stdout, stderr io.Writer) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg.log = stderr
	for _, f := range cfg.tests {
		flagName, n := "", 0
		switch f.name {
		case "idle":
			flagName, n = "-idle-conns", cfg.idleConns
		case "hold":
			flagName, n = "-hold-conns", cfg.holdConns
		default:
			continue
		}
		// The tool holds n client sockets; each server holds n more in its
		// own process (it inherits the same limit).
		if lim := noFileLimit(); lim != 0 && uint64(n)+256 > lim {
			return fmt.Errorf("%s %d needs more file descriptors than RLIMIT_NOFILE %d allows (%d + 256 spare)", flagName, n, lim, n)
		}
	}

	tmp, err := os.MkdirTemp("", "etcp-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	sides, err := prepareSides(ctx, cfg, tmp, stderr)
	if err != nil {
		return err
	}
	if cfg.bCmd == "none" {
		fmt.Fprintf(stderr, "B: none (-b none): no ratios\n")
	}

	// The launcher starts every server; it must outlive them (priority.go),
	// so its close is deferred before their stops.
	l := startLauncher()
	defer l.close()
	if err := l.lower(cfg.nice); err != nil {
		fmt.Fprintln(stderr, "load: warning: lowering the generator's priority:", err)
	}
	nice := fmt.Sprintf("generator nice %d, servers started at nice %d (-nice %d)", l.generator, l.from, cfg.nice)
	fmt.Fprintln(stderr, "priority:", nice)

	// The long-lived servers, only if a test uses them.
	if slices.ContainsFunc(cfg.tests, func(f *figure) bool { return !f.fresh }) {
		for _, sd := range sides {
			if sd.absent {
				continue
			}
			// Assign the named result err: the deferred stop reports into it.
			var s *server
			s, err = sd.start(ctx, cfg, l)
			if err != nil {
				return err
			}
			defer func() {
				if e := s.stop(); e != nil && err == nil {
					err = e
				}
			}()
			fmt.Fprintf(stderr, "%s: pid %d (nice %s) at %s: %s\n", sd.name, s.pid(), s.nice(), s.addr, joinArgs(s.argv))
			sd.srv = s
		}
	}

	res := newResults(cfg, sides, nice)
	var checkErrs []error
	for r := 1; r <= cfg.rounds; r++ {
		for _, f := range cfg.tests {
			for _, sd := range sides {
				if sd.absent {
					continue
				}
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("interrupted: %w", err)
				}
				vs, err := sd.measure(ctx, cfg, l, f, r)
				var ce *checkError
				if errors.As(err, &ce) {
					checkErrs = append(checkErrs, fmt.Errorf("round %d, %s, side %s: %w", r, f.name, sd.name, err))
					err = nil
				}
				if err == nil && len(vs) != len(f.rows) {
					err = fmt.Errorf("internal error: %d values for %d rows", len(vs), len(f.rows))
				}
				if err != nil {
					return fmt.Errorf("round %d, %s, side %s: %w", r, f.name, sd.name, err)
				}
				for i, v := range vs {
					fmt.Fprintf(stderr, "round %d/%d %-8s %s: %s %s\n", r, cfg.rounds, f.rows[i].key, sd.name, formatValue(v), f.rows[i].unit)
				}
				res.add(f, sd.name, vs)
			}
		}
	}
	res.print(stdout)
	if cfg.json {
		if err := res.printJSON(stdout); err != nil {
			return err
		}
	}
	return errors.Join(checkErrs...)
}
