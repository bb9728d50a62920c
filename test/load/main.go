// Command load measures an echo server built on this library (side A)
// against a plain net goroutine-per-connection echo server (side B), in one
// run, alternating A and B within every round.
//
// Usage (from anywhere inside the module):
//
//	go run ./test/load [flags]
//
// By default side A is ./examples/echo, built into a temporary directory with
// `go build` from the module root and run as `<tmp>/echo -addr 127.0.0.1:0`;
// side B is this very binary re-executed as `-serve plain -addr 127.0.0.1:0`.
// Each server runs as its own process: it must print `listening HOST:PORT`
// as its first stdout line, echo every byte back until the peer closes, and
// exit with status 0 on SIGTERM (checked every time a server is stopped). The
// host must be 127.0.0.1 (an unspecified host such as 0.0.0.0 is dialled as
// 127.0.0.1).
//
// Server lifetime: the throughput tests (pingpong, churn) share one
// long-lived server per side, started once per run (and only if one of them
// is selected). The memory tests (idle, hold) start a fresh server process
// per side and round, take its VmRSS baseline right after it printed
// `listening`, and stop it with SIGTERM after the measurement, so that no
// heap left over from an earlier round or test inflates or hides the growth
// measured in the next one. For them the command must be the server binary
// itself (not a wrapper such as `go run`), since its PID is used to read
// VmRSS.
//
// Flags:
//
//	-a CMD           side A server command, split on spaces (default: build ./examples/echo)
//	-a-args ARGS     extra arguments appended to A, split on spaces (e.g. "-framing 4")
//	-b CMD           side B server command (default: <self> -serve plain -addr 127.0.0.1:0);
//	                 "none" measures side A only (no B column, no ratios)
//	-rounds N        rounds; each round measures every test on A then on B (default 5)
//	-duration D      measurement time per test, side and round (default 2s)
//	-warmup D        uncounted warm-up before each measurement (default 200ms)
//	-conns N         ping-pong connections (default 50)
//	-size N          message size in bytes (default 64)
//	-workers N       churn workers (default 20)
//	-idle-conns N    connections held open by the idle test (default 5000)
//	-idle-settle D   wait after opening the idle or hold connections before sampling VmRSS (default 500ms)
//	-hold-conns N    connections held by the hold test (default 19000)
//	-hold-sources N  dial the hold connections from 127.0.0.1..127.0.0.N (default 0: only
//	                 when -hold-conns does not fit in net.ipv4.ip_local_port_range)
//	-timeout D       deadline for every dial, read and write (default 5s)
//	-tests LIST      comma-separated tests: pingpong, churn, idle, hold (default pingpong,churn)
//	-json            also print a JSON object with every figure and ratio as the last line
//	-serve plain     run the plain baseline echo server instead (with -addr ADDR)
//
// Tests (figures):
//
//	pingpong  -conns connections, each writes -size bytes, reads them back and
//	          checks every byte; figure: round trips per second (total).
//	churn     -workers workers, each dials, echoes -size bytes once and closes;
//	          figure: connections per second.
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
//
// Output: progress on stderr; on stdout a table with, per figure, the median
// over rounds and min/max for each side, and the ratio A/B as the median
// (min, max) of the per-round ratios. Machines are shared and noisy: the ratio
// is the figure to report. Any wrong echoed byte, timeout or other I/O error
// fails the run with exit status 1; usage errors exit with status 2.
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
	"os/exec"
	"os/signal"
	"path/filepath"
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
	json              bool
	serve, addr       string

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
	{name: "pingpong", rows: []row{{"pingpong", "pingpong rt/s", "round trips/s"}}, run: single(runPingPong)},
	{name: "churn", rows: []row{{"churn", "churn conn/s", "connections/s"}}, run: single(runChurn)},
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
	fs.StringVar(&cfg.bCmd, "b", "", "side B server command (default: this binary with -serve plain -addr 127.0.0.1:0; \"none\": measure A only)")
	fs.IntVar(&cfg.rounds, "rounds", 5, "number of rounds (each measures A then B)")
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
	tests := fs.String("tests", defaultTests, "comma-separated tests: pingpong, churn, idle, hold")
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
	}
	seen := map[string]bool{}
	for _, name := range strings.Split(*tests, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		f := lookupFigure(name)
		if f == nil {
			return nil, fmt.Errorf("-tests: unknown test %q", name)
		}
		seen[name] = true
		cfg.tests = append(cfg.tests, f)
	}
	if len(cfg.tests) == 0 {
		return nil, errors.New("-tests: no test selected")
	}
	return cfg, nil
}

// run is main without os.Exit, so that tests can call it in-process.
func run(args []string, stdout, stderr io.Writer) int {
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

	aLabel, bLabel := "A", "B"
	aArgv := strings.Fields(cfg.aCmd)
	if len(aArgv) == 0 {
		aLabel = "A(etcp)"
		tmp, err := os.MkdirTemp("", "etcp-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		bin, err := buildEcho(ctx, tmp, stderr)
		if err != nil {
			return err
		}
		aArgv = []string{bin, "-addr", "127.0.0.1:0"}
	}
	aArgv = append(aArgv, strings.Fields(cfg.aArgs)...)
	bArgv := strings.Fields(cfg.bCmd)
	noB := cfg.bCmd == "none"
	if noB {
		bLabel, bArgv = "B(none)", []string{"none"}
	} else if len(bArgv) == 0 {
		bLabel = "B(plain)"
		self, err := os.Executable()
		if err != nil {
			self = os.Args[0]
		}
		bArgv = []string{self, "-serve", "plain", "-addr", "127.0.0.1:0"}
	}

	sides := []*side{{name: "A", argv: aArgv}}
	if noB {
		fmt.Fprintf(stderr, "B: none (-b none): measuring A only\n")
	} else {
		sides = append(sides, &side{name: "B", argv: bArgv})
	}
	// The long-lived servers, only if a test uses them.
	if slices.ContainsFunc(cfg.tests, func(f *figure) bool { return !f.fresh }) {
		for _, sd := range sides {
			// Assign the named result err: the deferred stop reports into it.
			var s *server
			s, err = startServer(ctx, sd.name, sd.argv, startTimeout(cfg))
			if err != nil {
				return err
			}
			defer func() {
				if e := s.stop(); e != nil && err == nil {
					err = e
				}
			}()
			fmt.Fprintf(stderr, "%s: pid %d at %s: %s\n", sd.name, s.pid(), s.addr, strings.Join(sd.argv, " "))
			sd.srv = s
		}
	}

	res := newResults(cfg, aLabel, bLabel, aArgv, bArgv)
	var checkErrs []error
	for r := 1; r <= cfg.rounds; r++ {
		for _, f := range cfg.tests {
			for _, sd := range sides {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("interrupted: %w", err)
				}
				vs, err := sd.measure(ctx, cfg, f, r)
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

// side is one side under test: its server command and, if a throughput
// test is selected, its long-lived server.
type side struct {
	name string
	argv []string
	srv  *server // long-lived server; nil if no test uses it
}

func startTimeout(cfg *config) time.Duration { return cfg.timeout + 25*time.Second }

// measure runs f once on this side: on the long-lived server, or for a fresh
// figure on a server started for this call and stopped (SIGTERM, exit
// status 0 required) afterwards. A *checkError is returned as is (with the
// values) unless the server then fails.
func (sd *side) measure(ctx context.Context, cfg *config, f *figure, round int) ([]float64, error) {
	var ce *checkError
	if !f.fresh {
		vs, err := f.run(ctx, cfg, sd.srv)
		if err == nil || errors.As(err, &ce) {
			if e := sd.srv.exited(); e != nil {
				return nil, e
			}
		}
		return vs, err
	}
	s, err := startServer(ctx, sd.name, sd.argv, startTimeout(cfg))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.log, "round %d/%d %s %s: fresh server pid %d at %s\n", round, cfg.rounds, f.name, sd.name, s.pid(), s.addr)
	vs, err := f.run(ctx, cfg, s)
	stopErr := s.stop()
	switch {
	case stopErr == nil:
		return vs, err
	case err == nil:
		return nil, stopErr
	case errors.As(err, &ce):
		// Not a check failure any more: the server failed too.
		return nil, fmt.Errorf("%v; %w", err, stopErr)
	default:
		return nil, err // already decorated with the server state
	}
}

// buildEcho builds ./examples/echo of the enclosing module into dir.
func buildEcho(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "echo")
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/echo")
	cmd.Dir = root
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	fmt.Fprintf(stderr, "building ./examples/echo in %s\n", root)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./examples/echo (in %s): %w; pass -a CMD to use another server", root, err)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for i := 0; i < 256; i++ {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no go.mod found above the working directory; run inside the module or pass -a CMD")
}
