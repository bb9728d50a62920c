package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// Server CPU comes from /proc/PID/stat: utime + stime (fields 14 and 15) are
// the CPU time of every thread of the process, the live ones and the ones
// that have exited, in clock ticks (1/CLK_TCK s, 10 ms with the usual
// CLK_TCK of 100). Finer counters exist but count less:
// /proc/PID/schedstat's first field is in nanoseconds but belongs to the
// main thread alone (every thread has its own under /proc/PID/task/TID/),
// and summing the per-thread files misses threads that exited during the
// window. A measurement window of -duration (2 s) on a busy server spans
// a few hundred ticks, so the tick costs well under 1%.

// procStat is what the tool reads from a /proc/.../stat file.
type procStat struct {
	utime, stime int64 // clock ticks, all threads
	nice         int
}

// cpu returns utime + stime as a duration.
func (p procStat) cpu() time.Duration {
	return time.Duration(p.utime+p.stime) * time.Second / time.Duration(clockTicks())
}

// readStat reads /proc/PID/stat (or, with tid > 0, /proc/PID/task/TID/stat).
func readStat(pid, tid int) (procStat, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	if tid > 0 {
		path = fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// parseStat parses the contents of a /proc/.../stat file. The second field,
// the command name in parentheses, may hold spaces and parentheses itself,
// so the fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("no ')' in stat")
	}
	// Fields after the name start at field 3 (state).
	f := bytes.Fields(b[i+1:])
	const (
		utime = 14 - 3
		stime = 15 - 3
		nice  = 19 - 3
	)
	if len(f) <= nice {
		return procStat{}, fmt.Errorf("%d fields after the name, want more than %d", len(f), nice)
	}
	var st procStat
	var err error
	if st.utime, err = strconv.ParseInt(string(f[utime]), 10, 64); err != nil {
		return procStat{}, fmt.Errorf("utime: %w", err)
	}
	if st.stime, err = strconv.ParseInt(string(f[stime]), 10, 64); err != nil {
		return procStat{}, fmt.Errorf("stime: %w", err)
	}
	n, err := strconv.Atoi(string(f[nice]))
	if err != nil {
		return procStat{}, fmt.Errorf("nice: %w", err)
	}
	st.nice = n
	return st, nil
}

// cpuTime returns the CPU time process pid has used so far, all threads.
func cpuTime(pid int) (time.Duration, error) {
	st, err := readStat(pid, 0)
	if err != nil {
		return 0, err
	}
	return st.cpu(), nil
}

// cpuProbe returns a function reading pid's CPU time, for runRate.
func cpuProbe(pid int) func() (time.Duration, error) {
	return func() (time.Duration, error) { return cpuTime(pid) }
}

// perOp returns cpu / ops in microseconds, NaN when unknown.
func perOp(cpu time.Duration, ops int64) float64 {
	if cpu < 0 || ops <= 0 {
		return nan
	}
	return float64(cpu) / float64(time.Microsecond) / float64(ops)
}

var clockTicks = sync.OnceValue(func() int64 {
	if hz, err := auxvClockTicks(); err == nil {
		return hz
	}
	return 100 // USER_HZ is 100 on every Linux architecture Go supports
})

// auxvClockTicks reads AT_CLKTCK from this process's auxiliary vector: the
// value the kernel hands to sysconf(_SC_CLK_TCK), which is what `getconf
// CLK_TCK` prints, without cgo.
func auxvClockTicks() (int64, error) {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 0, err
	}
	return parseAuxvClockTicks(b)
}

// parseAuxvClockTicks finds AT_CLKTCK in an auxiliary vector of native
// 64-bit (type, value) pairs.
func parseAuxvClockTicks(b []byte) (int64, error) {
	const atNull, atClkTck = 0, 17
	if strconv.IntSize != 64 {
		return 0, errors.New("auxv parsing is for 64-bit processes")
	}
	for ; len(b) >= 16; b = b[16:] {
		typ := binary.NativeEndian.Uint64(b)
		val := binary.NativeEndian.Uint64(b[8:])
		switch typ {
		case atNull:
			return 0, errors.New("no AT_CLKTCK in auxv")
		case atClkTck:
			if val == 0 || val > 1e6 {
				return 0, fmt.Errorf("odd AT_CLKTCK %d", val)
			}
			return int64(val), nil
		}
	}
	return 0, errors.New("no AT_CLKTCK in auxv")
}
