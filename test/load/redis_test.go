package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// benchOutput is what redis-benchmark 7.0 printed with -t mset --csv, after
// a warning of the kind it prints when the server has no CONFIG command.
const benchOutput = `WARNING: Could not fetch server CONFIG
"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"MSET (10 keys)","86956.52","0.296","0.088","0.295","0.351","0.415","0.527"
`

func TestParseBenchmarkCSV(t *testing.T) {
	rows, err := parseBenchmarkCSV([]byte(benchOutput))
	if err != nil || len(rows) != 1 || rows[0].test != "MSET (10 keys)" || rows[0].rps != 86956.52 {
		t.Fatalf("got %+v, %v", rows, err)
	}
	for name, bad := range map[string]string{
		"no header":    `"PING_MBULK","1000.00","0.1"` + "\n",
		"server error": strings.SplitAfter(benchOutput, "\n")[1] + "Error from server: ERR unknown command 'MSET'\n",
		"bad rps":      strings.SplitAfter(benchOutput, "\n")[1] + `"GET","fast","0.1"` + "\n",
		"zero rps":     strings.SplitAfter(benchOutput, "\n")[1] + `"GET","0.00","0.1"` + "\n",
	} {
		if rows, err := parseBenchmarkCSV([]byte(bad)); err == nil {
			t.Errorf("%s: parsed as %+v", name, rows)
		}
	}
	// A header and no result: no error here, the caller wants one row.
	if rows, err := parseBenchmarkCSV([]byte(strings.SplitAfter(benchOutput, "\n")[1])); err != nil || len(rows) != 0 {
		t.Errorf("header only: %+v, %v", rows, err)
	}
}

// needRedis skips the test unless redis-server and redis-benchmark are
// installed (apt-get install redis-server, which brings redis-tools).
func needRedis(t *testing.T) {
	t.Helper()
	for _, p := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (apt-get install redis-server redis-tools)", p)
		}
	}
}

// TestRedisBenchmarkOutput parses what the installed redis-benchmark
// prints, against a redis-server started the tool's way.
func TestRedisBenchmarkOutput(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	s, err := startRedisServer(ctx, "R", []string{"redis-server"}, 20*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	}()
	port := s.addr[strings.LastIndexByte(s.addr, ':')+1:]
	for _, tc := range []struct{ cmd, test string }{
		{"ping", "PING_MBULK"}, {"get", "GET"}, {"mset", "MSET (10 keys)"},
	} {
		out, err := runRedisBenchmark(ctx, s, []string{"-p", port, "-c", "5", "-n", "500", "-P", "4",
			"-t", redisBenchTest(tc.cmd), "--csv"}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parseBenchmarkCSV(out)
		if err != nil || len(rows) != 1 || rows[0].test != tc.test || rows[0].rps <= 0 {
			t.Errorf("%s: %+v, %v from:\n%s", tc.cmd, rows, err, out)
		}
	}
	// An error reply ends redis-benchmark with a failure.
	if out, err := runRedisBenchmark(ctx, s, []string{"-p", port, "-n", "10", "--csv", "NOSUCHCOMMAND"}, time.Minute); err == nil {
		t.Errorf("an unknown command passed:\n%s", out)
	}
}

// TestRedisVsRedis runs the redis test with redis-server on both sides,
// briefly, and checks the rows and the JSON: their structure, not how the
// figures compare. A real load run: ETCP_LOAD=1.
func TestRedisVsRedis(t *testing.T) {
	needLoad(t)
	needRedis(t)
	var out, errb bytes.Buffer
	code := run([]string{
		"-tests", "redis", "-a", "redis-server", "-rounds", "1", "-conns", "5",
		"-redis-requests", "2000", "-redis-commands", "ping,set,get", "-redis-pipeline", "1,4", "-json",
	}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	text := out.String()
	if !regexp.MustCompile(`(?m)^figure\s+A\(redis-server\)\s+B\(redis-server\)\s+A/B$`).MatchString(text) {
		t.Errorf("no table header")
	}
	if !strings.Contains(text, "A(redis-server): redis-server --port PORT --bind 127.0.0.1 --save '' --appendonly no\n") {
		t.Errorf("no command line for A")
	}
	for _, label := range []string{"redis PING rq/s", "redis SET CPU µs/rq", "redis GET P4 rq/s", "redis GET P4 CPU µs/rq"} {
		requireRow(t, text, label, 2, 1)
	}
	figs := lastJSON(t, text)
	if len(figs) != 12 {
		t.Errorf("%d figures in JSON, want 12", len(figs))
	}
	// Requests per second are never 0 (parseBenchmarkCSV refuses it); a
	// CPU time per request may round to 0 on a busy machine, and then the
	// ratio is missing.
	for _, key := range []string{"redis_ping", "redis_get_p4"} {
		if f := figs[key]; f.A == nil || f.B == nil || f.Ratio == nil || f.A.Median <= 0 || f.B.Median <= 0 {
			t.Errorf("%s: %+v", key, f)
		}
	}
	if f := figs["redis_set_cpu"]; f.A == nil || f.B == nil || f.A.Median < 0 || f.B.Median < 0 {
		t.Errorf("redis_set_cpu: %+v", f)
	}
}

// TestRedisNoKV: without ./examples/kv in the tree and without -a, the
// redis test says what to do. (Once examples/kv exists this checks
// nothing.)
func TestRedisNoKV(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "examples", "kv")); err == nil {
		t.Skip("examples/kv exists")
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-tests", "redis", "-rounds", "1"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "no ./examples/kv") {
		t.Errorf("exit status %d; stderr:\n%s", code, errb.String())
	}
}

// TestRedisReferenceServers runs the redis test with the reference
// Redis-protocol servers as side C, on plain net and on gnet: every
// command redis-benchmark sends gets a reply it accepts (it stops on an
// error reply), and the table shows C and its ratio to B. It builds the
// nested gnetecho module: a real load run, ETCP_LOAD=1.
func TestRedisReferenceServers(t *testing.T) {
	needLoad(t)
	needRedis(t)
	for _, engine := range []string{"net", "gnet"} {
		t.Run(engine, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{
				"-tests", "redis", "-a", "redis-server", "-c", engine, "-rounds", "1", "-conns", "5",
				"-redis-requests", "2000", "-redis-pipeline", "1,4",
			}, &out, &errb)
			t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
			if code != 0 {
				t.Fatalf("exit status %d", code)
			}
			text := out.String()
			header := `(?m)^figure\s+A\(redis-server\)\s+B\(redis-server\)\s+C\(` + engine + ` resp\)\s+A/B\s+C/B$`
			if !regexp.MustCompile(header).MatchString(text) {
				t.Errorf("no table header with C")
			}
			if !strings.Contains(text, "/"+engine+"resp -resp -engine "+engine+" -addr 127.0.0.1:0\n") {
				t.Errorf("no command line for C")
			}
			for _, label := range []string{"redis PING rq/s", "redis INCR CPU µs/rq", "redis MSET P4 rq/s"} {
				requireRow(t, text, label, 3, 2)
			}
		})
	}
}

// TestRedcon runs the redis test with the reference Redis-protocol server
// on gnet as side C and on redcon as side D: redcon's server answers every
// command redis-benchmark sends, with and without pipelining, and the
// table shows both sides and their ratios to B. It builds the nested
// module: a real load run, ETCP_LOAD=1.
func TestRedcon(t *testing.T) {
	needLoad(t)
	needRedis(t)
	var out, errb bytes.Buffer
	code := run([]string{
		"-tests", "redis", "-a", "redis-server", "-c", "gnet", "-d", "redcon", "-rounds", "1", "-conns", "5",
		"-redis-requests", "2000", "-redis-pipeline", "1,4", "-json",
	}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	text := out.String()
	header := `(?m)^figure\s+A\(redis-server\)\s+B\(redis-server\)\s+C\(gnet resp\)\s+D\(redcon resp\)\s+A/B\s+C/B\s+D/B$`
	if !regexp.MustCompile(header).MatchString(text) {
		t.Errorf("no table header with C and D")
	}
	if !regexp.MustCompile(`(?m)^D\(redcon resp\): \S+/redconresp -resp -engine redcon -addr 127\.0\.0\.1:0$`).MatchString(text) {
		t.Errorf("no command line for D")
	}
	for _, label := range []string{"redis PING rq/s", "redis SET rq/s", "redis GET CPU µs/rq", "redis INCR rq/s", "redis MSET P4 rq/s"} {
		requireRow(t, text, label, 4, 3)
	}
	for _, key := range []string{"redis_get", "redis_mset_p4"} {
		if f := lastJSON(t, text)[key]; f.D == nil || f.D.Median <= 0 || f.RatioD == nil || f.C == nil {
			t.Errorf("%s: %+v", key, f)
		}
	}
}
