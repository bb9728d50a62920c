package main

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses: fields are counted from
	// the last ')'.
	line := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 " +
		"123 45 0 0 20 7 3 0 1000 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.utime != 123 || st.stime != 45 || st.nice != 7 {
		t.Errorf("got %+v, want utime 123 stime 45 nice 7", st)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 45 0 0 20 7"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

// TestCPUTimeOfSelf reads this process's own /proc/PID/stat: the CPU time
// grows with work done on any thread, and agrees with getrusage.
func TestCPUTimeOfSelf(t *testing.T) {
	pid := os.Getpid()
	st, err := readStat(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	rusage := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// Both count every thread; /proc in whole ticks, getrusage finer.
	// Between the two reads only a little CPU passes.
	tick := time.Second / time.Duration(clockTicks())
	if d := rusage - st.cpu(); d < -tick || d > 5*tick+50*time.Millisecond {
		t.Errorf("/proc says %v, getrusage %v", st.cpu(), rusage)
	}
	if p := getpriority(t); st.nice != p {
		t.Errorf("nice %d in /proc, getpriority says %d", st.nice, p)
	}

	// Work on another goroutine (so on any thread; reading /proc is the
	// work) until the counter has moved by two ticks: awaited, not slept for.
	before, err := cpuTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan time.Duration)
	go func() {
		for {
			now, err := cpuTime(pid)
			if err != nil || now-before >= 2*tick {
				done <- now
				return
			}
		}
	}()
	select {
	case after := <-done:
		if after-before < 2*tick {
			t.Errorf("CPU time did not grow: %v then %v", before, after)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("CPU time did not grow in 30s of work")
	}
}

func getpriority(t *testing.T) int {
	t.Helper()
	// The raw syscall returns 20 - nice, so that it is never negative.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p
}

func TestClockTicks(t *testing.T) {
	hz, err := auxvClockTicks()
	if err != nil {
		t.Fatalf("AT_CLKTCK: %v", err)
	}
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		want, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil || hz != want {
			t.Errorf("AT_CLKTCK %d, getconf CLK_TCK %q", hz, out)
		}
	} else {
		t.Logf("no getconf (%v); AT_CLKTCK %d", err, hz)
	}
	if clockTicks() != hz {
		t.Errorf("clockTicks() %d, want %d", clockTicks(), hz)
	}

	pair := func(typ, val uint64) []byte {
		b := binary.NativeEndian.AppendUint64(nil, typ)
		return binary.NativeEndian.AppendUint64(b, val)
	}
	auxv := append(append(pair(6, 4096), pair(17, 250)...), pair(0, 0)...)
	if hz, err := parseAuxvClockTicks(auxv); err != nil || hz != 250 {
		t.Errorf("parseAuxvClockTicks = %d, %v; want 250", hz, err)
	}
	if _, err := parseAuxvClockTicks(append(pair(6, 4096), pair(0, 0)...)); err == nil {
		t.Errorf("no AT_CLKTCK accepted")
	}
}

func TestPerOp(t *testing.T) {
	if v := perOp(2*time.Second, 1000000); v != 2 {
		t.Errorf("perOp = %v, want 2 µs", v)
	}
	if v := perOp(-1, 10); !math.IsNaN(v) {
		t.Errorf("perOp of an unknown CPU time = %v, want NaN", v)
	}
}
