package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain lets the test binary act as a server process: as the plain
// baseline (`-serve plain`, through run) or as a broken server used by the
// failure tests (`-serve-test mute|corrupt`); or as the tool itself in a
// process of its own (`-load ARGS...`). Otherwise it runs the tests and
// checks with goleak that no goroutine outlives them.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 {
		switch os.Args[1] {
		case "-serve":
			os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
		case "-serve-test":
			os.Exit(serveBroken(os.Args[2]))
		case "-load":
			os.Exit(run(os.Args[2:], os.Stdout, os.Stderr))
		case "holder": // the cluster scenario's holders (cluster.go)
			os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
		}
	}
	goleak.VerifyTestMain(m)
}

// serveBroken serves "mute" (reads, never answers), "corrupt" (echoes
// with the first byte of every read flipped) or "once" (echoes the first
// read of every connection, then never answers) on 127.0.0.1 until SIGTERM.
func serveBroken(mode string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	fmt.Printf("listening %s\n", ln.Addr())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for reads := 0; ; reads++ {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					switch {
					case mode == "corrupt":
						buf[0] ^= 0xff
						fallthrough
					case mode == "once" && reads == 0:
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	<-sigs
	ln.Close()
	return 0
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestPlainVsPlain runs the whole tool in-process against four plain
// servers (A given with -a, B the default, C and D given with -c and -d)
// for one short round, and checks every row, the CPU rows included, and
// the JSON.
func TestPlainVsPlain(t *testing.T) {
	plain := self(t) + " -serve plain -addr 127.0.0.1:0"
	var out, errb bytes.Buffer
	code := run([]string{
		"-a", plain, "-c", plain, "-d", plain, "-rounds", "1", "-duration", "200ms", "-warmup", "50ms",
		"-conns", "4", "-workers", "2", "-tests", "pingpong,churn,idle",
		"-idle-conns", "100", "-idle-settle", "50ms", "-json",
	}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	text := out.String()
	for _, label := range []string{"pingpong rt/s", "pingpong CPU µs/rt", "churn conn/s", "churn CPU µs/conn"} {
		requireRow(t, text, label, 4, 3)
	}
	requireMemoryRow(t, text, "idle B/conn", 4, 3)
	if !regexp.MustCompile(`(?m)^figure\s+A\s+B\(plain\)\s+C\s+D\s+A/B\s+C/B\s+D/B$`).MatchString(text) {
		t.Errorf("no table header")
	}

	// The structure, not the figures: every side measured; exchanges and
	// connections happened (so their rates are positive, with a ratio per
	// round); a CPU time may round to 0 on a busy machine (a server that
	// got no clock tick in the window), and then its ratio is missing.
	figs := lastJSON(t, text)
	for _, name := range []string{"pingpong", "pingpong_cpu", "churn", "churn_cpu", "idle"} {
		f, ok := figs[name]
		sides := []*stats{f.A, f.B, f.C, f.D}
		if !ok || slices.Contains(sides, nil) {
			t.Fatalf("figure %s missing in JSON: %+v", name, f)
		}
		for i, s := range sides {
			if name != "idle" && s.Median < 0 {
				t.Errorf("figure %s: side %c negative: %+v", name, 'A'+i, s)
			}
			if (name == "pingpong" || name == "churn") && s.Median <= 0 {
				t.Errorf("figure %s: side %c made no exchange: %+v", name, 'A'+i, s)
			}
		}
		if name == "pingpong" || name == "churn" {
			for i, r := range []*stats{f.Ratio, f.RatioC, f.RatioD} {
				if r == nil || len(r.Rounds) != 1 {
					t.Errorf("figure %s: want one round of ratio %c/B: %+v", name, "ACD"[i], r)
				}
			}
		}
	}
}

func TestCorruptServerFails(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{
		"-a", self(t) + " -serve-test corrupt", "-servers", "etcp", "-rounds", "1", "-duration", "200ms",
		"-warmup", "0s", "-conns", "2", "-tests", "pingpong",
	}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "wrong echoed byte") {
		t.Errorf("stderr does not report wrong bytes:\n%s", errb.String())
	}
}

func TestMuteServerTimesOut(t *testing.T) {
	var out, errb bytes.Buffer
	start := time.Now()
	code := run([]string{
		"-a", self(t) + " -serve-test mute", "-servers", "etcp", "-rounds", "1", "-duration", "200ms",
		"-conns", "2", "-tests", "pingpong", "-timeout", "300ms",
	}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "timeout") {
		t.Errorf("stderr does not report a timeout:\n%s", errb.String())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestBadFirstLine(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-a", "echo hello", "-servers", "etcp", "-rounds", "1", "-duration", "100ms"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), `first line is "hello"`) {
		t.Fatalf("exit status %d; stderr:\n%s", code, errb.String())
	}
}

func TestParseListening(t *testing.T) {
	for line, want := range map[string]string{
		"listening 127.0.0.1:4000\n": "127.0.0.1:4000",
		"listening 0.0.0.0:4000":     "127.0.0.1:4000",
		"listening [::]:4000":        "127.0.0.1:4000",
		"listening :4000":            "127.0.0.1:4000",
		"listening 10.0.0.1:4000":    "",
		"listening 127.0.0.1:0":      "",
		"hello":                      "",
	} {
		got, err := parseListening(line)
		if (err == nil) != (want != "") || got != want {
			t.Errorf("parseListening(%q) = %q, %v; want %q", line, got, err, want)
		}
	}
}

func TestStats(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	if !math.IsNaN(median(nil)) {
		t.Errorf("median(nil) not NaN")
	}
	r := ratios([]float64{10, 20, 30}, []float64{10, 0, 15})
	if len(r) != 2 || r[0] != 1 || r[1] != 2 {
		t.Errorf("ratios = %v", r)
	}
	if _, err := parseFlags([]string{"-tests", "pingpong,nope"}, &bytes.Buffer{}); err == nil {
		t.Errorf("unknown test accepted")
	}
	cfg, err := parseFlags([]string{}, &bytes.Buffer{})
	if err != nil || len(cfg.tests) != 2 || cfg.tests[0].name != "pingpong" || cfg.tests[1].name != "churn" {
		t.Errorf("default tests: %v %v", cfg, err)
	}
}

// TestHold runs the hold test against two plain servers, dialling from
// three source addresses.
func TestHold(t *testing.T) {
	plain := self(t) + " -serve plain -addr 127.0.0.1:0"
	var out, errb bytes.Buffer
	code := run([]string{
		"-a", plain, "-servers", "etcp,net", "-rounds", "1", "-tests", "hold", "-hold-conns", "300",
		"-hold-sources", "3", "-idle-settle", "50ms", "-json",
	}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	text := out.String()
	if !regexp.MustCompile(`(?m)^hold answered\s+300 \(min 300 max 300\)\s+300 \(min 300 max 300\)\s+1\.00 `).MatchString(text) {
		t.Errorf("no hold answered row")
	}
	if !regexp.MustCompile(`(?m)^hold B/conn\s+\S+ \(min`).MatchString(text) {
		t.Errorf("no hold B/conn row")
	}
	if !strings.Contains(errb.String(), "from 3 source addresses 127.0.0.1..127.0.0.3") {
		t.Errorf("stderr does not name the source addresses")
	}
	figs := lastJSON(t, text)
	if f := figs["hold_answered"]; f.A == nil || f.A.Median != 300 || f.B == nil || f.B.Median != 300 {
		t.Errorf("hold_answered: %+v", f)
	}
	if f := figs["hold"]; f.A == nil || f.B == nil || f.Ratio == nil || f.C != nil || f.RatioC != nil {
		t.Errorf("hold: %+v", f)
	}
}

// TestHoldUnansweredFails: a server that answers only the first exchange
// of each connection fails the hold check, with the table still printed
// and the count named; -b none measures A alone.
func TestHoldUnansweredFails(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{
		"-a", self(t) + " -serve-test once", "-b", "none", "-rounds", "1", "-tests", "hold",
		"-hold-conns", "20", "-idle-settle", "10ms", "-timeout", "300ms",
	}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "20 of 20 held connections did not answer") {
		t.Errorf("stderr does not name the unanswered connections")
	}
	if !regexp.MustCompile(`(?m)^hold answered\s+0 \(min 0 max 0\)\s+n/a\s+n/a$`).MatchString(out.String()) {
		t.Errorf("no hold answered row with B n/a")
	}
	if strings.Contains(errb.String(), "B: pid") {
		t.Errorf("side B started despite -b none")
	}
}

// TestFreshServers: the memory tests run on a fresh server per side and
// round (distinct PIDs), and no long-lived server is started for them.
func TestFreshServers(t *testing.T) {
	plain := self(t) + " -serve plain -addr 127.0.0.1:0"
	var out, errb bytes.Buffer
	code := run([]string{
		"-a", plain, "-servers", "etcp,net", "-rounds", "2", "-tests", "idle", "-idle-conns", "50", "-idle-settle", "10ms",
	}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	m := regexp.MustCompile(`(?m)^round \d/2 idle [AB]: fresh server pid (\d+) at `).FindAllStringSubmatch(errb.String(), -1)
	pids := map[string]bool{}
	for _, sm := range m {
		pids[sm[1]] = true
	}
	if len(m) != 4 || len(pids) != 4 {
		t.Errorf("want 4 fresh servers with distinct PIDs, got %d lines, %d PIDs", len(m), len(pids))
	}
	if regexp.MustCompile(`(?m)^[AB]: pid `).MatchString(errb.String()) {
		t.Errorf("long-lived server started for memory tests only")
	}
	if !regexp.MustCompile(`(?m)^idle A: 50 connections; VmRSS \S+ MiB since start \((stable after|NOT stable)`).MatchString(errb.String()) {
		t.Errorf("no idle settle line")
	}
}

func TestSampleStable(t *testing.T) {
	ctx := context.Background()
	seq := func(vs ...int64) func() (int64, error) {
		i := 0
		return func() (int64, error) {
			v := vs[min(i, len(vs)-1)]
			i++
			return v, nil
		}
	}
	// 1000 -> 1100 (10%) -> 1105 (<1%): stable at the third sample.
	v, note, err := sampleStable(ctx, seq(1000, 1100, 1105, 5000), time.Millisecond, 0.01, time.Second)
	if err != nil || v != 1105 || !strings.HasPrefix(note, "stable after 3 samples") {
		t.Errorf("got %d %q %v", v, note, err)
	}
	// Always growing by 10%: bounded by the limit, the last sample is reported.
	x := int64(1000)
	grow := func() (int64, error) { x += x / 10; return x, nil }
	start := time.Now()
	v, note, err = sampleStable(ctx, grow, time.Millisecond, 0.01, 30*time.Millisecond)
	if err != nil || v != x || !strings.HasPrefix(note, "NOT stable") || time.Since(start) > time.Second {
		t.Errorf("got %d (want %d) %q %v", v, x, note, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := sampleStable(cctx, grow, time.Hour, 0.01, time.Hour); err == nil {
		t.Errorf("no error on a cancelled context")
	}
}
