package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
)

var testLimits = limits{maxBulk: 1 << 20, maxQuery: 4 << 20}

func TestScanCommand(t *testing.T) {
	long := strings.Repeat("x", lineMax)
	for _, tc := range []struct {
		in   string
		lim  limits
		n    int      // 0: more bytes needed
		args []string // when complete
		err  protoCode
	}{
		{in: "", n: 0},
		{in: "*1\r\n$4\r\nPING\r\n", n: 14, args: []string{"PING"}},
		{in: "*1\r\n$4\r\nPING\r\n*1\r\n", n: 14, args: []string{"PING"}},
		{in: "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", n: 19, args: []string{"GET", ""}},
		{in: "*0\r\n", n: 4},
		{in: "*-1\r\n", n: 5},
		{in: "*-7\r\nPING", n: 5},
		{in: "PING\r\n", n: 6, args: []string{"PING"}},
		{in: "PING\n", n: 5, args: []string{"PING"}},
		{in: "\r\n", n: 2},
		{in: " a  'b c' \"d\\ne\" \r\n", n: 19, args: []string{"a", "b c", "d\ne"}},
		// More needed.
		{in: "*"}, {in: "*1"}, {in: "*1\r"}, {in: "*1\r\n"}, {in: "*1\r\n$"}, {in: "*1\r\n$4\r\nPI"},
		{in: "*1\r\n$4\r\nPING"}, {in: "*1\r\n$4\r\nPING\r"}, {in: "*2\r\n$4\r\nPING\r\n"}, {in: "PING"}, {in: "PING\r"},
		{in: "*1\r\n$" + long[:lineMax-1]},
		{in: long},
		// Malformed, found at the first byte that shows it.
		{in: "*x\r\n", n: 4, err: protoBadMbulkLen},
		{in: "*1048577\r\n", n: 10, err: protoBadMbulkLen},
		{in: "*1\r\n+PING\r\n", n: 5, err: protoExpectedDollar},
		{in: "*1\r\n$-1\r\n", n: 9, err: protoBadBulkLen},
		{in: "*1\r\n$4\rX", n: 8, err: protoNoLF},
		{in: "*1\rX", n: 4, err: protoNoLF},
		{in: "*1\r\n$4\r\nPINGxx", n: 14, err: protoBadBulkEnd},
		{in: "*1\r\n$4\r\nPING\rx", n: 14, err: protoBadBulkEnd},
		{in: "PING \"a\r\n", n: 9, err: protoUnbalanced},
		{in: "*1" + long, n: 1 + lineMax, err: protoMbulkLineTooBig},
		{in: "*1\r\n$" + long, n: 5 + lineMax, err: protoBulkLineTooBig},
		{in: long + "x", n: lineMax + 1, err: protoInlineTooBig},
		// Limits.
		{in: "*1\r\n$11\r\n", lim: limits{maxBulk: 10, maxQuery: 1 << 20}, n: 9, err: protoBadBulkLen},
		{in: "*1\r\n$10\r\n0123456789\r\n", lim: limits{maxBulk: 10, maxQuery: 1 << 20}, n: 21, args: []string{"0123456789"}},
		{in: "*1\r\n$10\r\n", lim: limits{maxBulk: 100, maxQuery: 20}, n: 9, err: protoTooBig},
		{in: "*1\r\n$10\r\n0123456789\r\n", lim: limits{maxBulk: 100, maxQuery: 21}, n: 21, args: []string{"0123456789"}},
	} {
		lim := tc.lim
		if lim == (limits{}) {
			lim = testLimits
		}
		var c collector
		n, perr := scanCommand([]byte(tc.in), lim, &c)
		name := tc.in[:min(len(tc.in), 40)]
		assert.Equal(t, tc.err, perr.code, "%q: %s", name, perr.message())
		assert.Equal(t, tc.n, n, "%q", name)
		if tc.err == protoOK && n > 0 {
			assert.Equal(t, tc.args, strs(c.args), "%q", name)
		}
	}
}

func strs(args [][]byte) []string {
	if len(args) == 0 {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"10", 10, true},
		{"9223372036854775807", 1<<63 - 1, true}, {"-9223372036854775808", -1 << 63, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false}, {"", 0, false}, {"-", 0, false}, {"-0", 0, false},
		{"01", 0, false}, {"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1x", 0, false}, {"1.0", 0, false},
	} {
		v, ok := parseInt([]byte(tc.in))
		assert.Equal(t, tc.ok, ok, "%q", tc.in)
		assert.Equal(t, tc.v, v, "%q", tc.in)
	}
}

// TestProtoErrorMessages: every code has Redis's text, on one line.
func TestProtoErrorMessages(t *testing.T) {
	for code := protoInlineTooBig; code <= protoTooBig; code++ {
		msg := protoError{code: code, got: '\n'}.message()
		assert.True(t, strings.HasPrefix(msg, "ERR Protocol error: "), msg)
		assert.NotContains(t, string(appendError(nil, msg)[:len(msg)]), "\n")
	}
	assert.Equal(t, "ERR Protocol error: expected '$', got ' '", protoError{code: protoExpectedDollar, got: '\r'}.message())
}

// TestScanDoesNotAllocate: framing (from the start or resumed) and
// parsing a command allocate nothing once the collector's slices have
// grown.
func TestScanDoesNotAllocate(t *testing.T) {
	bufs := [][]byte{
		[]byte(req("SET", "key:__rand_int__", "xxx")),
		[]byte(req("GET", "key:__rand_int__")),
		[]byte("PING\r\n"),
		[]byte("SET a \"b c\"\r\n"),
		[]byte("*1\r\n$x\r\n"),
	}
	var c collector
	f := requestFramer{maxBulk: 1 << 20}
	allocs := testing.AllocsPerRun(100, func() {
		for _, b := range bufs {
			if _, n, _ := f.Decode(b, 1<<20); n != len(b) {
				t.Fatalf("Decode %q: n=%d", b, n)
			}
			c.args = c.args[:0]
			scanCommand(b, testLimits, &c)
		}
	})
	assert.Zero(t, allocs)

	// Resumed, in the middle of a command and to its end.
	mset := []byte(req("MSET", "a", "1", "b", "2"))
	_, _, s, _ := f.DecodeFrom(mset[:20], 1<<20, transport.ScanState{})
	require.NotZero(t, s, "the state of an incomplete command")
	allocs = testing.AllocsPerRun(100, func() {
		if _, n, _, _ := f.DecodeFrom(mset[:len(mset)-1], 1<<20, s); n != 0 {
			t.Fatalf("DecodeFrom of an incomplete command: n=%d", n)
		}
		if _, n, _, _ := f.DecodeFrom(mset, 1<<20, s); n != len(mset) {
			t.Fatalf("DecodeFrom: n=%d", n)
		}
	})
	assert.Zero(t, allocs)
}

// scanSeeds are requests (and broken ones) for the fuzz seed corpus.
var scanSeeds = []string{
	"*1\r\n$4\r\nPING\r\n", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "*0\r\n", "*-1\r\n",
	"PING\r\n", "SET a 'x y'\r\n", "ECHO \"a\\x41\\n\"\r\n", "ECHO a\"b c\"d\r\n", "   \r\n", "ECHO 'a\\'b'\r\n",
	"*1\r\n$4\r\nPINGxx", "*1\r\n$4\rX", "*x\r\n", "*1\r\n+PING\r\n", "*1\r\n$-1\r\n", "*2\r\n$3\r\nGET\r\n",
	"*1\r\n$04\r\nPING\r\n", "ECHO a\x00b\r\n", "*1\r\n$3\r\nfoo\r\n*1\r\n$3\r\nbar\r\n",
}

// FuzzScan checks, for any bytes, that scanning never panics; that the
// framer's frame is what scanCommand finds; that collecting changes
// nothing; that a command or an error is found at the first byte that
// shows it (every shorter prefix needs more bytes) and again on the frame
// alone; that the framer resumed a byte at a time frames every command
// as Decode does; and that collected arguments, encoded again, scan to
// the same.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s), 64)
	}
	f.Fuzz(func(t *testing.T, data []byte, maxBulk int) {
		lim := limits{maxBulk: max(maxBulk, 0) % 200, maxQuery: 300}
		n, perr := scanCommand(data, lim, nil)
		var c collector
		n2, perr2 := scanCommand(data, lim, &c)
		if n != n2 || perr != perr2 {
			t.Fatalf("with a collector n=%d %v, without n=%d %v", n2, perr2, n, perr)
		}
		frame, fn, err := requestFramer{maxBulk: lim.maxBulk}.Decode(data, lim.maxQuery)
		if err != nil || fn != n || !bytes.Equal(frame, data[:n]) {
			t.Fatalf("Decode = %q, %d, %v; scan n=%d", frame, fn, err, n)
		}
		checkResumed(t, requestFramer{maxBulk: lim.maxBulk}, data, lim.maxQuery)
		if n == 0 {
			if perr.code != protoOK {
				t.Fatalf("error %v at n=0", perr)
			}
			return
		}
		if n > len(data) {
			t.Fatalf("n=%d beyond %d bytes", n, len(data))
		}
		if n3, perr3 := scanCommand(data[:n], lim, nil); n3 != n || perr3 != perr {
			t.Fatalf("the frame alone: n=%d %v, want n=%d %v", n3, perr3, n, perr)
		}
		if n <= 512 {
			for k := range n {
				if nk, perrk := scanCommand(data[:k], lim, nil); nk != 0 || perrk.code != protoOK {
					t.Fatalf("%d of the %d bytes: n=%d %v, want more needed", k, n, nk, perrk)
				}
			}
		}
		if perr.code != protoOK || len(c.args) == 0 {
			return
		}
		var enc bytes.Buffer
		fmt.Fprintf(&enc, "*%d\r\n", len(c.args))
		for _, a := range c.args {
			fmt.Fprintf(&enc, "$%d\r\n%s\r\n", len(a), a)
		}
		var c2 collector
		big := limits{maxBulk: 1 << 20, maxQuery: 1 << 20}
		if n4, perr4 := scanCommand(enc.Bytes(), big, &c2); n4 != enc.Len() || perr4.code != protoOK {
			t.Fatalf("arguments %q encoded: n=%d %v", c.args, n4, perr4)
		}
		require.Equal(t, strs(c.args), strs(c2.args))
	})
}

// FuzzScanNumber: scanNumber's one-pass common case agrees with the
// general scanNumberSlow.
func FuzzScanNumber(f *testing.F) {
	for _, s := range []string{"*1\r\n", "$0\r\n", "$-0\r\n", "$-1\r\n", "*01\r\n", "$123456789012345678\r\n",
		"$1234567890123456789\r\n", "$-9223372036854775808\r\n", "$9223372036854775808\r\n", "$12\r", "$12\rx", "$1x\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		v, n, perr := scanNumber(data, 0, protoBulkLineTooBig)
		v2, n2, perr2 := scanNumberSlow(data, 0, protoBulkLineTooBig)
		if n2 == 0 || perr2.code != protoOK {
			v, v2 = 0, 0 // no number to compare
		}
		if v != v2 || n != n2 || perr != perr2 {
			t.Fatalf("%q: scanNumber %d %d %v, scanNumberSlow %d %d %v", data, v, n, perr, v2, n2, perr2)
		}
	})
}

// checkResumed: every prefix of data framed with the state the previous,
// shorter prefix left gives exactly what Decode gives on that prefix,
// command after command (the first 2 KiB of data).
func checkResumed(t *testing.T, f requestFramer, data []byte, max int) {
	data = data[:min(len(data), 2048)]
	var s transport.ScanState
	for start, k := 0, 1; k <= len(data); k++ {
		frame, n, err := f.Decode(data[start:k], max)
		rframe, rn, next, rerr := f.DecodeFrom(data[start:k], max, s)
		if err != nil || rerr != nil || n != rn || !bytes.Equal(frame, rframe) {
			t.Fatalf("bytes %d:%d from state %+v: DecodeFrom = %q, %d, %v; Decode = %q, %d, %v",
				start, k, s, rframe, rn, rerr, frame, n, err)
		}
		if n > 0 {
			if next != (transport.ScanState{}) {
				t.Fatalf("state %+v with a frame", next)
			}
			start, k, s = start+n, start+n, transport.ScanState{}
			continue
		}
		s = next
	}
}
