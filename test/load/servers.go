package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The servers under test. Echo tests (pingpong, churn, idle, hold) run
// sides A to D, those chosen with -servers, always in that order:
//
//	etcp  A: ./examples/echo, built with `go build` (or -a CMD, plus -a-args)
//	net   B: this binary as `-serve plain`, the plain net baseline (or -b CMD)
//	gnet  C: ./test/load/gnetecho, built with `go build` in that nested
//	         module, so that no peer library enters the library's go.mod
//	         (or -c CMD, plus -c-args)
//	nbio  D: the same module's nbio echo server, `-engine nbio` (or -d CMD,
//	         plus -d-args)
//
// The redis test runs side A, ./examples/kv (or -a CMD, plus -a-args),
// against side B, redis-server (or -b CMD), and, with -c or -d, sides C
// and D: a reference engine's name (gnet, net or redcon) builds
// ./test/load/gnetecho and runs its reference Redis-protocol server (-resp)
// on that engine; anything else is a command (plus -c-args or -d-args). A
// command whose program is named redis-server is started the Redis way
// (startRedisServer) instead of through the `listening ADDR` contract
// (startServer).
//
// Ratios are always against side B.

// moduleName is the module the tool belongs to; builds run in its root.
const moduleName = "github.com/etcp-go/etcp"

// serverNames are the names -servers accepts, in side order (A, B, C, D).
var serverNames = []string{"etcp", "net", "gnet", "nbio"}

const defaultServers = "etcp,net,gnet,nbio"

// respEngines are the reference Redis-protocol servers -c and -d name in
// the redis test: gnetecho -resp -engine NAME.
var respEngines = []string{"gnet", "net", "redcon"}

// peerDir is the nested module of the peers' servers, from the module root.
var peerDir = filepath.Join("test", "load", "gnetecho")

// side is one side under test: its server command and, if a test uses
// one, its long-lived server.
type side struct {
	name  string   // "A" to "D"
	label string   // column title, e.g. "A(etcp)"
	argv  []string // the server command; {"none"} when absent
	// absent: not measured (-b none, or not in -servers); for side B its
	// column is still printed, as n/a, beside the n/a ratios.
	absent bool
	redis  bool    // started as a redis-server
	srv    *server // long-lived server; nil if no test uses it
}

// parseServers parses -servers.
func parseServers(list string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "plain" {
			name = "net"
		}
		switch {
		case name == "":
		case !slices.Contains(serverNames, name):
			return nil, fmt.Errorf("-servers: unknown server %q (known: %s)", name, strings.Join(serverNames, ", "))
		case !slices.Contains(out, name):
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-servers: no server selected")
	}
	return out, nil
}

// newSide returns side name running cmd, split on spaces, or, if cmd is
// empty, def's command under def's label; then args, split on spaces.
func newSide(name, cmd, args string, def func() (label string, argv []string, err error)) (*side, error) {
	sd := &side{name: name, label: name, argv: strings.Fields(cmd)}
	if len(sd.argv) == 0 {
		label, argv, err := def()
		if err != nil {
			return nil, err
		}
		sd.label, sd.argv = name+"("+label+")", argv
	}
	sd.argv = append(sd.argv, strings.Fields(args)...)
	return sd, nil
}

// buildPeer builds the nested peer module into tmp as bin (one name per
// engine, so that the table's command lines say which runs).
func buildPeer(ctx context.Context, tmp, bin string, stderr io.Writer) (string, error) {
	out, err := buildGo(ctx, peerDir, ".", filepath.Join(tmp, bin), stderr)
	if err != nil {
		return "", fmt.Errorf("%w; it needs gnet, nbio and redcon from the module proxy", err)
	}
	return out, nil
}

// prepareSides builds what needs building into tmp and returns the sides,
// in the order each round measures them.
func prepareSides(ctx context.Context, cfg *config, tmp string, stderr io.Writer) ([]*side, error) {
	if cfg.redisMode {
		return prepareRedisSides(ctx, cfg, tmp, stderr)
	}
	// peer is a default echo server of the nested module.
	peer := func(engine string) func() (string, []string, error) {
		return func() (string, []string, error) {
			bin, err := buildPeer(ctx, tmp, engine+"echo", stderr)
			if err != nil {
				return "", nil, fmt.Errorf("%w; leave %s out of -servers, or pass its command", err, engine)
			}
			return engine, []string{bin, "-engine", engine, "-addr", "127.0.0.1:0"}, nil
		}
	}
	var sides []*side
	for _, name := range serverNames {
		selected := slices.Contains(cfg.servers, name)
		var sd *side
		var err error
		switch {
		case name == "net" && (!selected || cfg.bCmd == "none"):
			// B is always a column: the ratios' denominator.
			sd = &side{name: "B", label: "B(none)", argv: []string{"none"}, absent: true}
		case !selected:
			continue
		case name == "etcp":
			sd, err = newSide("A", cfg.aCmd, cfg.aArgs, func() (string, []string, error) {
				bin, err := buildGo(ctx, "", "./examples/echo", filepath.Join(tmp, "echo"), stderr)
				if err != nil {
					return "", nil, fmt.Errorf("%w; pass -a CMD to use another server", err)
				}
				return "etcp", []string{bin, "-addr", "127.0.0.1:0"}, nil
			})
		case name == "net":
			sd, err = newSide("B", cfg.bCmd, "", func() (string, []string, error) {
				self, err := os.Executable()
				if err != nil {
					self = os.Args[0]
				}
				return "plain", []string{self, "-serve", "plain", "-addr", "127.0.0.1:0"}, nil
			})
		case name == "gnet":
			sd, err = newSide("C", cfg.cCmd, cfg.cArgs, peer("gnet"))
		case name == "nbio":
			sd, err = newSide("D", cfg.dCmd, cfg.dArgs, peer("nbio"))
		}
		if err != nil {
			return nil, err
		}
		sides = append(sides, sd)
	}
	return sides, nil
}

// prepareRedisSides returns the sides of the redis test: A, ./examples/kv
// or -a, B, redis-server or -b, and C and D with -c and -d.
func prepareRedisSides(ctx context.Context, cfg *config, tmp string, stderr io.Writer) ([]*side, error) {
	a, err := newSide("A", cfg.aCmd, cfg.aArgs, func() (string, []string, error) {
		root, err := moduleRoot()
		if err != nil {
			return "", nil, err
		}
		if _, err := os.Stat(filepath.Join(root, "examples", "kv")); err != nil {
			return "", nil, fmt.Errorf("no ./examples/kv in %s to build; pass -a CMD (e.g. -a redis-server)", root)
		}
		bin, err := buildGo(ctx, "", "./examples/kv", filepath.Join(tmp, "kv"), stderr)
		if err != nil {
			return "", nil, fmt.Errorf("%w; pass -a CMD to use another server", err)
		}
		return "kv", []string{bin, "-addr", "127.0.0.1:0"}, nil
	})
	if err != nil {
		return nil, err
	}
	b := &side{name: "B", label: "B", argv: strings.Fields(cfg.bCmd)}
	switch {
	case cfg.bCmd == "none":
		b.label, b.argv, b.absent = "B(none)", []string{"none"}, true
	case len(b.argv) == 0:
		b.argv = []string{"redis-server"}
	}
	sides := []*side{a, b}
	for _, p := range []struct{ name, cmd, args string }{{"C", cfg.cCmd, cfg.cArgs}, {"D", cfg.dCmd, cfg.dArgs}} {
		if p.cmd == "" {
			continue
		}
		cmd, engine := p.cmd, ""
		if slices.Contains(respEngines, cmd) {
			cmd, engine = "", cmd
		}
		sd, err := newSide(p.name, cmd, p.args, func() (string, []string, error) {
			bin, err := buildPeer(ctx, tmp, engine+"resp", stderr)
			if err != nil {
				return "", nil, fmt.Errorf("%w; pass -%s CMD to use another server", err, strings.ToLower(p.name))
			}
			return engine + " resp", []string{bin, "-resp", "-engine", engine, "-addr", "127.0.0.1:0"}, nil
		})
		if err != nil {
			return nil, err
		}
		sides = append(sides, sd)
	}
	for _, sd := range sides {
		if !sd.absent && isRedisServer(sd.argv) {
			sd.redis = true
			sd.label = sd.name + "(redis-server)"
		}
	}
	return sides, nil
}

// command returns the side's command as the table shows it.
func (sd *side) command() string {
	if sd.redis {
		return joinArgs(append(append([]string{sd.argv[0]}, redisServerArgs("PORT")...), sd.argv[1:]...))
	}
	return joinArgs(sd.argv)
}

// joinArgs joins argv with spaces, showing an empty argument as ”.
func joinArgs(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" {
			a = "''"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// isRedisServer reports whether argv runs redis-server.
func isRedisServer(argv []string) bool {
	return len(argv) > 0 && filepath.Base(argv[0]) == "redis-server"
}

// start starts a server of this side with the launcher.
func (sd *side) start(ctx context.Context, cfg *config, l *launcher) (*server, error) {
	if sd.redis {
		return startRedisServer(ctx, sd.name, sd.argv, startTimeout(cfg), l.start)
	}
	return startServer(ctx, sd.name, sd.argv, startTimeout(cfg), l.start)
}

func startTimeout(cfg *config) time.Duration { return cfg.timeout + 25*time.Second }

// measure runs f once on this side: on the long-lived server, or for a fresh
// figure on a server started for this call and stopped (SIGTERM, exit
// status 0 required) afterwards. A *checkError is returned as is (with the
// values) unless the server then fails.
func (sd *side) measure(ctx context.Context, cfg *config, l *launcher, f *figure, round int) ([]float64, error) {
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
	s, err := sd.start(ctx, cfg, l)
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

// buildGo runs `go build -o out pkg` in dir, relative to the module root
// ("" for the root itself), and returns out. The nested peer module is
// built with GOWORK=off so that no workspace file above it pulls it into
// another build list.
func buildGo(ctx context.Context, dir, pkg, out string, stderr io.Writer) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	wd := filepath.Join(root, dir)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = wd
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	name := filepath.Join(dir, pkg)
	fmt.Fprintf(stderr, "building %s in %s\n", name, wd)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s (in %s): %w", pkg, wd, err)
	}
	return out, nil
}

// moduleRoot walks up from the working directory to the directory holding
// the go.mod of this module (not of a nested one such as gnetecho's).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == moduleName {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("no go.mod of %s above the working directory; run inside the module or pass -a CMD", moduleName)
}

// modulePath returns the module path a go.mod declares ("" if unreadable).
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
