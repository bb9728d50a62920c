package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServersFlags(t *testing.T) {
	parse := func(args ...string) *config {
		t.Helper()
		cfg, err := parseFlags(args, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("parseFlags(%q): %v", args, err)
		}
		return cfg
	}
	if cfg := parse(); !slices.Equal(cfg.servers, []string{"etcp", "net", "gnet", "nbio"}) || cfg.rounds != 5 || cfg.nice != 10 {
		t.Errorf("defaults: servers %q rounds %d nice %d", cfg.servers, cfg.rounds, cfg.nice)
	}
	if cfg := parse("-servers", " gnet, plain,gnet,nbio "); !slices.Equal(cfg.servers, []string{"gnet", "net", "nbio"}) {
		t.Errorf("-servers gnet,plain,gnet,nbio: %q", cfg.servers)
	}
	if cfg := parse("-d", "srv -x", "-d-args", "-y 1"); cfg.dCmd != "srv -x" || cfg.dArgs != "-y 1" {
		t.Errorf("-d, -d-args: %q, %q", cfg.dCmd, cfg.dArgs)
	}
	// -b none keeps its documented meaning (A only) unless -servers says more.
	if cfg := parse("-b", "none"); !slices.Equal(cfg.servers, []string{"etcp"}) {
		t.Errorf("-b none: %q", cfg.servers)
	}
	if cfg := parse("-b", "none", "-servers", "etcp,gnet"); !slices.Equal(cfg.servers, []string{"etcp", "gnet"}) {
		t.Errorf("-b none -servers etcp,gnet: %q", cfg.servers)
	}

	cfg := parse("-tests", "redis", "-redis-commands", "PING,get", "-redis-pipeline", "1,8")
	if !cfg.redisMode || cfg.rounds != 3 || len(cfg.tests) != 4 {
		t.Fatalf("-tests redis: mode %v rounds %d figures %d", cfg.redisMode, cfg.rounds, len(cfg.tests))
	}
	var keys []string
	for _, f := range cfg.tests {
		for _, r := range f.rows {
			keys = append(keys, r.key)
		}
	}
	want := []string{"redis_ping", "redis_ping_cpu", "redis_get", "redis_get_cpu",
		"redis_ping_p8", "redis_ping_p8_cpu", "redis_get_p8", "redis_get_p8_cpu"}
	if !slices.Equal(keys, want) {
		t.Errorf("redis rows %q, want %q", keys, want)
	}
	if cfg := parse("-tests", "redis", "-rounds", "1"); cfg.rounds != 1 {
		t.Errorf("-tests redis -rounds 1: %d rounds", cfg.rounds)
	}

	for _, bad := range [][]string{
		{"-servers", "etcp,nginx"},
		{"-servers", ","},
		{"-tests", "redis,pingpong"},
		{"-tests", "redis", "-servers", "etcp,net"},
		{"-tests", "redis", "-servers", "nbio"},
		{"-tests", "redis", "-redis-pipeline", "0"},
		{"-tests", "redis", "-redis-commands", ","},
		{"-nice", "-1"},
	} {
		if _, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

// TestSides checks the sides the flags make, in order, with their labels
// and commands, when every command is given (nothing is built or started).
func TestSides(t *testing.T) {
	sides := func(args ...string) []*side {
		t.Helper()
		cfg, err := parseFlags(args, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("parseFlags(%q): %v", args, err)
		}
		sides, err := prepareSides(context.Background(), cfg, t.TempDir(), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("prepareSides(%q): %v", args, err)
		}
		return sides
	}
	// describe shows a side as "NAME LABEL ARGV [absent] [redis]".
	describe := func(sides []*side) []string {
		var out []string
		for _, sd := range sides {
			d := sd.name + " " + sd.label + " " + strings.Join(sd.argv, " ")
			if sd.absent {
				d += " absent"
			}
			if sd.redis {
				d += " redis"
			}
			out = append(out, d)
		}
		return out
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-a", "a1", "-a-args", "-x", "-b", "b1", "-c", "c1", "-c-args", "-y", "-d", "d1 -k", "-d-args", "-z 2"},
			[]string{"A A a1 -x", "B B b1", "C C c1 -y", "D D d1 -k -z 2"}},
		// Side order is fixed, whatever -servers lists; B stays, as n/a.
		{[]string{"-servers", "nbio,etcp", "-a", "a1", "-d", "d1"},
			[]string{"A A a1", "B B(none) none absent", "D D d1"}},
		{[]string{"-b", "none", "-a", "a1"},
			[]string{"A A a1", "B B(none) none absent"}},
		{[]string{"-tests", "redis", "-a", "a1", "-c", "c1", "-d", "/usr/bin/redis-server", "-d-args", "--maxclients 100"},
			[]string{"A A a1", "B B(redis-server) redis-server redis", "C C c1",
				"D D(redis-server) /usr/bin/redis-server --maxclients 100 redis"}},
		{[]string{"-tests", "redis", "-a", "a1", "-b", "none", "-d", "d1"},
			[]string{"A A a1", "B B(none) none absent", "D D d1"}},
	} {
		if got := describe(sides(tc.args...)); !slices.Equal(got, tc.want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.args, got, tc.want)
		}
	}
}

// TestPriority runs the tool in a process of its own with -nice 3: the
// servers it starts keep the tool's nice value, its own threads get 3 more.
func TestPriority(t *testing.T) {
	base := getpriority(t)
	if base+3 > 19 {
		t.Skipf("this test runs at nice %d already", base)
	}
	plain := self(t) + " -serve plain -addr 127.0.0.1:0"
	cmd := exec.Command(self(t), "-load", "-a", plain, "-servers", "etcp,net", "-nice", "3",
		"-rounds", "1", "-duration", "100ms", "-warmup", "0s", "-conns", "2", "-tests", "pingpong")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^priority: generator nice (\d+), servers started at nice (\d+) \(-nice 3\)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("no priority line in the report")
	}
	if gen, srv := atoi(t, m[1]), atoi(t, m[2]); gen != base+3 || srv != base {
		t.Errorf("generator nice %d, servers %d; want %d and %d", gen, srv, base+3, base)
	}
	servers := regexp.MustCompile(`(?m)^[AB]: pid \d+ \(nice (\d+)\) at `).FindAllStringSubmatch(errb.String(), -1)
	if len(servers) != 2 {
		t.Fatalf("%d server lines, want 2", len(servers))
	}
	for _, s := range servers {
		if n := atoi(t, s[1]); n != base {
			t.Errorf("a server runs at nice %d, want %d", n, base)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGnet builds the nested gnetecho module and measures it as side C
// for one short round beside plain net: it prints `listening`, echoes
// every byte, and exits 0 on SIGTERM (checked when the tool stops it).
// The build needs gnet from the module proxy or cache; it is skipped when
// that fails. A real load run: ETCP_LOAD=1.
func TestGnet(t *testing.T) {
	needLoad(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var log bytes.Buffer
	bin, err := buildGo(ctx, filepath.Join("test", "load", "gnetecho"), ".", filepath.Join(t.TempDir(), "gnetecho"), &log)
	if err != nil {
		t.Skipf("cannot build test/load/gnetecho (it needs github.com/panjf2000/gnet/v2 from the module proxy): %v\n%s", err, log.String())
	}
	var out, errb bytes.Buffer
	code := run([]string{
		"-servers", "net,gnet", "-c", bin + " -addr 127.0.0.1:0", "-rounds", "1", "-duration", "200ms",
		"-warmup", "50ms", "-conns", "4", "-workers", "2", "-tests", "pingpong,churn",
	}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	text := out.String()
	if !regexp.MustCompile(`(?m)^figure\s+B\(plain\)\s+C\s+C/B$`).MatchString(text) {
		t.Errorf("no table header")
	}
	for _, label := range []string{"pingpong rt/s", "pingpong CPU µs/rt", "churn conn/s", "churn CPU µs/conn"} {
		requireRow(t, text, label, 2, 1)
	}
	if strings.Contains(errb.String(), "A: pid") {
		t.Errorf("side A started without etcp in -servers")
	}
}

// TestNbio measures the nested module's gnet and nbio echo servers, built
// by the tool as sides C and D (the defaults), beside plain net for one
// short round of every echo test: each prints `listening`, echoes every
// byte, holds and answers every connection, and exits 0 on SIGTERM
// (checked when the tool stops it). Skipped when the module does not
// build (its libraries come from the module proxy). A real load run:
// ETCP_LOAD=1.
func TestNbio(t *testing.T) {
	needLoad(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var log bytes.Buffer
	if _, err := buildPeer(ctx, t.TempDir(), "peers", &log); err != nil {
		t.Skipf("cannot build %s: %v\n%s", peerDir, err, log.String())
	}
	var out, errb bytes.Buffer
	code := run([]string{
		"-servers", "net,gnet,nbio", "-rounds", "1", "-duration", "200ms", "-warmup", "50ms",
		"-conns", "4", "-workers", "2", "-tests", "pingpong,churn,idle,hold",
		"-idle-conns", "100", "-hold-conns", "200", "-idle-settle", "50ms", "-json",
	}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	text := out.String()
	if !regexp.MustCompile(`(?m)^figure\s+B\(plain\)\s+C\(gnet\)\s+D\(nbio\)\s+C/B\s+D/B$`).MatchString(text) {
		t.Errorf("no table header")
	}
	for _, cmd := range []string{`C\(gnet\): \S+/gnetecho -engine gnet`, `D\(nbio\): \S+/nbioecho -engine nbio`} {
		if !regexp.MustCompile(`(?m)^` + cmd + ` -addr 127\.0\.0\.1:0$`).MatchString(text) {
			t.Errorf("no command line %q", cmd)
		}
	}
	for _, label := range []string{"pingpong rt/s", "pingpong CPU µs/rt", "churn conn/s", "churn CPU µs/conn", "hold answered"} {
		requireRow(t, text, label, 3, 2)
	}
	requireMemoryRow(t, text, "idle B/conn", 3, 2)
	requireMemoryRow(t, text, "hold B/conn", 3, 2)
	figs := lastJSON(t, text)
	if f := figs["hold_answered"]; f.B == nil || f.C == nil || f.D == nil || f.B.Median != 200 || f.C.Median != 200 || f.D.Median != 200 {
		t.Errorf("hold_answered: %+v", f)
	}
	if f := figs["churn"]; f.A != nil || f.Ratio != nil || f.D == nil || f.D.Median <= 0 || f.RatioD == nil {
		t.Errorf("churn: %+v", f)
	}
	if strings.Contains(errb.String(), "A: pid") {
		t.Errorf("side A started without etcp in -servers")
	}
}
