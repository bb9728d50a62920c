package main

import (
	"context"
	"encoding/csv"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redisBenchTests are the tests the run asks for, as redis-benchmark's
// CSV names them.
var redisBenchTests = []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"}

// TestRedisBenchmark runs redis-benchmark against kv, without and with
// pipelining: every test must be reported, with no error (redis-benchmark
// stops with status 1 at the first error reply), and the data it leaves
// must be right: its INCR test increments the one key
// "counter:__rand_int__" (no -r), once per request. It uses
// redis-benchmark as a client that checks replies, with few requests, not
// as a benchmark: the comparison with redis-server is the load tool's
// (`go run ./test/load -tests redis`).
func TestRedisBenchmark(t *testing.T) {
	bench := tool(t, "redis-benchmark")
	tool(t, "redis-cli")
	ex := startKV(t)
	host, port, err := net.SplitHostPort(ex.Addr)
	require.NoError(t, err)
	const requests = 2000
	for i, pipeline := range []int{1, 16} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bench, "-h", host, "-p", port, "-c", "50", "-n", strconv.Itoa(requests),
			"-P", strconv.Itoa(pipeline), "-t", "ping,set,get,incr,mset", "--csv")
		out, err := cmd.Output()
		cancel()
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		require.NoError(t, err, "redis-benchmark -P %d: %s\n%s", pipeline, out, stderr)
		assert.NotContains(t, string(out)+string(stderr), "Error")

		rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
		require.NoError(t, err, "%s", out)
		require.NotEmpty(t, rows)
		assert.Equal(t, "test", rows[0][0], "the header")
		var names []string
		for _, row := range rows[1:] {
			names = append(names, row[0])
			rps, err := strconv.ParseFloat(row[1], 64) // very fast runs report "inf"
			require.NoError(t, err, "%q", row)
			assert.Positive(t, rps, "%q", row)
		}
		assert.Equal(t, redisBenchTests, names, "-P %d: every test reported", pipeline)

		assert.Equal(t, "(integer) "+strconv.Itoa((i+1)*requests), cli(t, ex.Addr, "INCRBY", "counter:__rand_int__", "0"),
			"-P %d: one increment per INCR request", pipeline)
		assert.Regexp(t, `^"[^"\\]{3}"$`, cli(t, ex.Addr, "GET", "key:__rand_int__"), "the 3-byte value SET and MSET store")
	}
	assert.Equal(t, "(integer) 2", cli(t, ex.Addr, "DBSIZE"))
}
