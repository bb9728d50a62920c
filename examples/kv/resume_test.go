package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
	"github.com/etcp-go/etcp/transport/transporttest"
)

// feedFramer gives stream to f in chunks of split(n) bytes, as the
// connection does (transporttest.Feed), resumed or scanned from the start
// each time: the request framer has no errors (malformed commands are
// frames), so it returns the frames and the bytes left over.
func feedFramer(t testing.TB, f requestFramer, stream []byte, max int, split func(n int) int, resume bool) ([][]byte, []byte) {
	t.Helper()
	fed := transporttest.Feed(f, stream, max, split, resume)
	require.NoError(t, fed.Err, "the request framer has no errors: malformed commands are frames")
	return fed.Frames, fed.Rest
}

// randomRequests is a stream of commands: arrays of bulk strings (some
// over the limits), inline commands (some with unbalanced quotes), empty
// lines, "*0" and "*-1", and malformed ones of every kind; with long,
// the over-long lines that hit lineMax too.
func randomRequests(rng *rand.Rand, long bool) []byte {
	var b []byte
	word := func(n int) []byte {
		w := make([]byte, n)
		for i := range w {
			w[i] = "abcxyz \r\n\"'\\$*0123456789"[rng.IntN(24)]
		}
		return w
	}
	for range 1 + rng.IntN(25) {
		switch rng.IntN(14) {
		case 0, 1, 2, 3, 4:
			args := rng.IntN(7)
			b = append(b, "*"+strconv.Itoa(args)+"\r\n"...)
			for range args {
				n := rng.IntN(20)
				if rng.IntN(8) == 0 {
					n = rng.IntN(200)
				}
				b = append(b, "$"+strconv.Itoa(n)+"\r\n"...)
				b = append(append(b, word(n)...), '\r', '\n')
			}
		case 5:
			b = append(b, "SET a 'x y'\r\n"...)
		case 6:
			b = append(b, "ECHO \"a\\x41"...) // unbalanced, ended by the next LF
			b = append(b, '\n')
		case 7:
			b = append(b, []string{"*0\r\n", "*-1\r\n", "\r\n", "\n", "PING\n"}[rng.IntN(5)]...)
		case 8:
			b = append(b, []string{"*x\r\n", "*1\r\n+PING\r\n", "*1\r\n$-1\r\n", "*1\r\n$04\r\nPING\r\n",
				"*1\r\n$4\r\nPINGxx", "*1\r\n$4\rX", "*1\rX", "*1048577\r\n", "*2\r\n$3\r\nGET\r\n$",
				"*1\r\n$99999999999999999999\r\n", "*01\r\n"}[rng.IntN(11)]...)
		case 9:
			b = append(b, word(rng.IntN(30))...)
		case 10:
			b = append(b, "*3\r\n$1\r\na\r\n$"...)
			b = append(b, strconv.Itoa(rng.IntN(400))...)
			b = append(b, "\r\n"...)
		case 11:
			if long {
				switch rng.IntN(3) {
				case 0:
					b = append(b, bytes.Repeat([]byte("y"), lineMax-2+rng.IntN(5))...)
				case 1:
					b = append(b, "*2\r\n$"...)
					b = append(b, bytes.Repeat([]byte("7"), lineMax-3+rng.IntN(6))...)
				default:
					b = append(b, "*"...)
					b = append(b, bytes.Repeat([]byte("1"), lineMax-3+rng.IntN(6))...)
				}
				b = append(b, "\r\n"...)
			}
		default:
			b = append(b, req("MSET", "k", string(word(3)), "j", string(word(rng.IntN(50))))...)
		}
	}
	if rng.IntN(3) == 0 {
		b = b[:rng.IntN(len(b)+1)] // end inside a command
	}
	return b
}

// TestFramerResumeMatchesDecode: the request framer resumed read after
// read, fed a byte at a time or in random chunks, finds exactly the
// frames (commands, and malformed commands cut where they go wrong) that
// one Decode of the whole stream finds, and leaves the same bytes over,
// over many random streams and limits.
func TestFramerResumeMatchesDecode(t *testing.T) {
	for seed := range uint64(600) {
		rng := rand.New(rand.NewPCG(seed, 7))
		long := seed%25 == 0
		stream := randomRequests(rng, long)
		f := requestFramer{maxBulk: rng.IntN(80)}
		maxQuery := 100 + rng.IntN(3000)
		if long {
			maxQuery = 4 * lineMax
		}
		wantFrames, wantRest := feedFramer(t, f, stream, maxQuery, func(rest int) int { return rest }, false)
		splits := map[string]func(int) int{
			"Random": func(rest int) int { return 1 + rng.IntN(min(rest, 1+rng.IntN(64))) },
		}
		if long {
			splits["Random"] = func(rest int) int { return 1 + rng.IntN(min(rest, 4096)) }
		} else {
			splits["OneByte"] = func(int) int { return 1 }
		}
		for name, split := range splits {
			frames, rest := feedFramer(t, f, stream, maxQuery, split, true)
			msg := fmt.Sprintf("seed %d, %s, maxBulk %d, maxQuery %d, stream %.300q", seed, name, f.maxBulk, maxQuery, stream)
			require.Equal(t, wantFrames, frames, msg)
			require.Equal(t, wantRest, rest, msg)
		}
	}
}

// bigMSET is an MSET of n arguments after its name (n/2 keys k0, k1, ...,
// each set to v0, v1, ...) as one RESP command.
func bigMSET(n int) []byte {
	b := make([]byte, 0, 13*n)
	b = append(b, "*"+strconv.Itoa(n+1)+"\r\n$4\r\nMSET\r\n"...)
	for i := range n {
		a := "k"
		if i%2 == 1 {
			a = "v"
		}
		a += strconv.Itoa(i / 2)
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"...)
		b = append(append(b, a...), '\r', '\n')
	}
	return b
}

// TestFramerResumeIsLinear: an MSET of 1,000,000 arguments arriving in
// 16 KiB reads is scanned once. The test proves it without timing: after
// every incomplete call it overwrites the arguments the state says are
// complete, so a framer that looked at them again would find no "$" and
// cut the command there; a call can then have examined only the "*N" line
// and the bytes from the state's position to the end, and their sum over
// the reads is checked against the command's size.
func TestFramerResumeIsLinear(t *testing.T) {
	const read = 16 << 10
	wire := bigMSET(1_000_000)
	header := bytes.Index(wire, []byte("\r\n")) + 2
	f := requestFramer{maxBulk: defaultMaxBulk}
	pending := make([]byte, 0, len(wire))
	var s transport.ScanState
	var examined, rescan, calls int
	for off := 0; ; off += read {
		require.Less(t, off, len(wire), "no frame after the whole command")
		pending = append(pending, wire[off:min(off+read, len(wire))]...)
		frame, n, next, err := f.DecodeFrom(pending, defaultMaxQuery, s)
		require.NoError(t, err)
		calls++
		examined += header + len(pending) - max(int(s.Pos), header)
		rescan += len(pending)
		if n > 0 {
			require.Equal(t, len(wire), n, "the whole command is one frame")
			assert.Len(t, frame, len(wire))
			assert.Zero(t, next, "a complete frame leaves no state")
			break
		}
		require.GreaterOrEqual(t, int(next.Pos), header)
		require.LessOrEqual(t, int(next.Pos), len(pending))
		for i := max(int(s.Pos), header); i < int(next.Pos); i++ {
			pending[i] = 'X' // what is before s.Pos was overwritten already
		}
		s = next
	}
	assert.Equal(t, (len(wire)+read-1)/read, calls)
	assert.Less(t, examined, 2*len(wire), "bytes a resumed scan can have examined")
	t.Logf("%d bytes in %d reads: at most %d bytes examined resumed (%.2f per byte of the command); %d rescanning from the start (%.0f per byte)",
		len(wire), calls, examined, float64(examined)/float64(len(wire)), rescan, float64(rescan)/float64(len(wire)))
}

// TestHugeMSET: over a real socket, an MSET of 1,000,000 arguments is
// answered +OK, and the keys are set.
func TestHugeMSET(t *testing.T) {
	const args = 1_000_000
	ex := startKV(t)
	c := dial(t, ex.Addr)
	wire := bigMSET(args)
	written := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Write(wire) // the reply comes only once it is all read
		written <- err
	}()
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.NoError(t, <-written)
	require.Equal(t, "+OK\r\n", line)
	t.Logf("MSET of %d arguments (%d bytes): +OK after %v", args, len(wire), time.Since(start))

	var query strings.Builder
	var want strings.Builder
	for _, i := range []int{0, 1, 4242, args/2 - 1} {
		k, v := "k"+strconv.Itoa(i), "v"+strconv.Itoa(i)
		query.WriteString(req("GET", k))
		want.WriteString("$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n")
	}
	query.WriteString(req("GET", "k"+strconv.Itoa(args/2)) + req("DBSIZE"))
	want.WriteString("$-1\r\n:" + strconv.Itoa(args/2) + "\r\n")
	_, err = io.WriteString(c, query.String())
	require.NoError(t, err)
	got := make([]byte, want.Len())
	_, err = io.ReadFull(r, got)
	require.NoError(t, err)
	assert.Equal(t, want.String(), string(got))
}

// TestFramerForeignState: a state that cannot belong to the buffer (past
// its end) starts the scan over instead of failing.
func TestFramerForeignState(t *testing.T) {
	f := requestFramer{maxBulk: 100}
	for _, in := range []string{req("GET", "k"), "GET k\r\n"} {
		frame, n, _, err := f.DecodeFrom([]byte(in), 1<<20, transport.ScanState{Pos: 1000, N: 5})
		require.NoError(t, err)
		assert.Equal(t, len(in), n, "%q", in)
		assert.Equal(t, in, string(frame))
	}
}
