package transport_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
	"github.com/etcp-go/etcp/transport/transporttest"
)

// randomLines is a stream of lines of random lengths, with LF and CRLF
// endings, lone CRs, empty lines, and now and then a line longer than max.
func randomLines(rng *rand.Rand, max int) []byte {
	var b []byte
	for range 1 + rng.IntN(30) {
		n := rng.IntN(max + 3)
		if rng.IntN(20) == 0 {
			n = max + 1 + rng.IntN(3*max+3)
		}
		for range n {
			switch rng.IntN(15) {
			case 0:
				b = append(b, '\r')
			default:
				b = append(b, byte('a'+rng.IntN(26)))
			}
		}
		switch rng.IntN(3) {
		case 0:
			b = append(b, '\n')
		case 1:
			b = append(b, '\r', '\n')
		default:
			b = append(b, '\r', '\r', '\n')
		}
	}
	if rng.IntN(2) == 0 {
		b = b[:rng.IntN(len(b)+1)] // end inside a line
	}
	return b
}

// TestLineResumeMatchesDecode: a Line framer resumed read after read, fed
// a byte at a time or in random chunks, finds the frames one Decode of the
// whole stream finds, and fails where it fails; fed the same chunks, it
// returns exactly what Decode returns (the same error text too).
func TestLineResumeMatchesDecode(t *testing.T) {
	f := transport.Line()
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 99))
		max := rng.IntN(64)
		if seed%10 == 0 {
			max = rng.IntN(600)
		}
		stream := randomLines(rng, max)
		whole := transporttest.Feed(f, stream, max, func(rest int) int { return rest }, false)
		splits := map[string]func(int) int{
			"OneByte": func(int) int { return 1 },
			"Random":  func(rest int) int { return 1 + rng.IntN(min(rest, 1+rng.IntN(40))) },
		}
		for name, split := range splits {
			chunks := make([]int, 0, len(stream))
			for rest := len(stream); rest > 0; {
				k := split(rest)
				chunks = append(chunks, k)
				rest -= k
			}
			replay := func() func(int) int {
				i := 0
				return func(int) int { i++; return chunks[i-1] }
			}
			resumed := transporttest.Feed(f, stream, max, replay(), true)
			rescanned := transporttest.Feed(f, stream, max, replay(), false)
			msg := fmt.Sprintf("seed %d, %s, max %d, stream %q", seed, name, max, stream)

			require.Equal(t, rescanned, resumed, msg)
			require.Equal(t, whole.Frames, resumed.Frames, msg)
			if whole.Err == nil {
				require.NoError(t, resumed.Err, msg)
				require.Equal(t, whole.Rest, resumed.Rest, msg)
			} else {
				require.ErrorIs(t, resumed.Err, transport.ErrFrameTooLarge, msg)
				require.ErrorIs(t, whole.Err, transport.ErrFrameTooLarge, msg)
			}
		}
	}
}

// TestLineResumeIsLinear: a line of 1 MiB arriving in 16 KiB reads is
// searched once. The test proves it without timing: after every
// incomplete call it overwrites the bytes the state says were searched
// with LFs, so a framer that searched them again would find a line there;
// what a call can examine is then only the bytes from the state's
// position to the end, and their sum over the reads is checked.
func TestLineResumeIsLinear(t *testing.T) {
	const size, read = 1 << 20, 16 << 10
	wire := append(bytes.Repeat([]byte("x"), size), '\r', '\n')
	r := transport.Line().(transport.Resumer)
	var pending []byte
	var s transport.ScanState
	var examined, rescan, calls int
	for off := 0; ; off += read {
		require.Less(t, off, len(wire), "no frame after the whole line")
		pending = append(pending, wire[off:min(off+read, len(wire))]...)
		frame, n, next, err := r.DecodeFrom(pending, size, s)
		require.NoError(t, err)
		calls++
		examined += len(pending) - int(s.Pos)
		rescan += len(pending)
		if n > 0 {
			assert.Equal(t, len(wire), n)
			assert.Len(t, frame, size)
			assert.Zero(t, next, "a complete frame leaves no state")
			break
		}
		require.LessOrEqual(t, int(next.Pos), len(pending))
		for i := int(s.Pos); i < int(next.Pos); i++ {
			pending[i] = '\n' // what is before s.Pos was overwritten already
		}
		s = next
	}
	assert.Equal(t, (len(wire)+read-1)/read, calls)
	assert.Less(t, examined, 2*len(wire), "bytes a resumed search can have examined")
	t.Logf("%d reads: at most %d bytes examined resumed (%.2f per byte of the line); %d rescanning from the start",
		calls, examined, float64(examined)/float64(len(wire)), rescan)
}

// TestDecodeFromDoesNotAllocate: resuming, and finding that more bytes are
// needed, allocate nothing.
func TestDecodeFromDoesNotAllocate(t *testing.T) {
	r := transport.Line().(transport.Resumer)
	line := []byte("hello, world\r\n")
	_, _, s, err := r.DecodeFrom(line[:5], 1<<20, transport.ScanState{})
	require.NoError(t, err)
	require.Equal(t, uint32(5), s.Pos)
	allocs := testing.AllocsPerRun(100, func() {
		if _, n, _, err := r.DecodeFrom(line, 1<<20, s); n != len(line) || err != nil {
			panic(fmt.Sprint(n, err))
		}
		if _, n, _, err := r.DecodeFrom(line[:9], 1<<20, s); n != 0 || err != nil {
			panic(fmt.Sprint(n, err))
		}
	})
	assert.Zero(t, allocs)
}

// TestLineResumeFromForeignState: a state that cannot belong to the
// buffer (past its end) starts the search over instead of failing.
func TestLineResumeFromForeignState(t *testing.T) {
	r := transport.Line().(transport.Resumer)
	frame, n, _, err := r.DecodeFrom([]byte("ab\ncd"), 10, transport.ScanState{Pos: 100})
	require.NoError(t, err)
	assert.Equal(t, "ab", string(frame))
	assert.Equal(t, 3, n)
}

// checkResume, for the fuzz targets: for a Resumer, every prefix of buf
// decoded with the state the previous, shorter prefix left gives exactly
// what Decode gives on that prefix, frame after frame.
func checkResume(t *testing.T, fr transport.Framer, buf []byte, limit int) {
	r, ok := fr.(transport.Resumer)
	if !ok {
		return
	}
	buf = buf[:min(len(buf), 4096)]
	var s transport.ScanState
	for start, k := 0, 1; k <= len(buf); k++ {
		frame, n, err := fr.Decode(buf[start:k], limit)
		rframe, rn, next, rerr := r.DecodeFrom(buf[start:k], limit, s)
		if !bytes.Equal(frame, rframe) || n != rn || fmt.Sprint(err) != fmt.Sprint(rerr) {
			t.Fatalf("bytes %d:%d from state %+v: DecodeFrom = %q, %d, %v; Decode = %q, %d, %v",
				start, k, s, rframe, rn, rerr, frame, n, err)
		}
		switch {
		case err != nil:
			if next != (transport.ScanState{}) {
				t.Fatalf("state %+v with an error", next)
			}
			return
		case n > 0:
			if next != (transport.ScanState{}) {
				t.Fatalf("state %+v with a frame", next)
			}
			start, k, s = start+n, start+n, transport.ScanState{}
		default:
			s = next
		}
	}
}

// BenchmarkLineLong frames a line of 1 MiB arriving in 16 KiB reads:
// resumed with DecodeFrom, or scanned from its start on every read by
// Decode.
func BenchmarkLineLong(b *testing.B) {
	const size, read = 1 << 20, 16 << 10
	wire := append(bytes.Repeat([]byte("x"), size), '\n')
	r := transport.Line().(transport.Resumer)
	for _, resume := range []bool{true, false} {
		name := "rescan"
		if resume {
			name = "resume"
		}
		b.Run(name, func(b *testing.B) {
			pending := make([]byte, 0, len(wire))
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				pending = pending[:0]
				var s transport.ScanState
				for off := 0; ; off += read {
					pending = append(pending, wire[off:min(off+read, len(wire))]...)
					var n int
					if resume {
						_, n, s, _ = r.DecodeFrom(pending, size, s)
					} else {
						_, n, _ = r.Decode(pending, size)
					}
					if n > 0 {
						break
					}
				}
			}
		})
	}
}
