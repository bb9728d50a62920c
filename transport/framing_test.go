package transport_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
)

// decodeStream feeds stream to f in chunks of split(len(rest)) bytes, as a
// connection's reader would, and returns copies of the frames it decodes.
// Bytes left undecoded at the end are an error.
func decodeStream(f transport.Framer, stream []byte, max int, split func(rest int) int) ([][]byte, error) {
	var buf []byte
	var frames [][]byte
	for len(stream) > 0 {
		k := split(len(stream))
		buf, stream = append(buf, stream[:k]...), stream[k:]
		for {
			frame, n, err := f.Decode(buf, max)
			if err != nil {
				return frames, err
			}
			if n == 0 {
				break
			}
			frames = append(frames, bytes.Clone(frame))
			buf = buf[n:]
		}
	}
	if len(buf) > 0 {
		return frames, errors.New("bytes left over at the end of the stream")
	}
	return frames, nil
}

func encodeAll(t *testing.T, f transport.Framer, payloads []string) []byte {
	t.Helper()
	var wire []byte
	for _, p := range payloads {
		var err error
		wire, err = f.Encode(wire, []byte(p))
		require.NoError(t, err)
	}
	return wire
}

var splits = map[string]func(rng *rand.Rand) func(int) int{
	"OneByte":  func(*rand.Rand) func(int) int { return func(int) int { return 1 } },
	"Random":   func(rng *rand.Rand) func(int) int { return func(rest int) int { return 1 + rng.IntN(min(rest, 97)) } },
	"OneChunk": func(*rand.Rand) func(int) int { return func(rest int) int { return rest } },
}

func TestFramersRoundTripInSplits(t *testing.T) {
	long := strings.Repeat("x", 255)
	tests := []struct {
		framer   transport.Framer
		payloads []string
		want     []string // nil: the payloads
	}{
		{transport.Length(1), []string{"", "hello", long, "a", ""}, nil},
		{transport.Length(2), []string{"", "hello", strings.Repeat("y", 70000/2), "\x00\n\r", ""}, nil},
		{transport.Length(4), []string{"", "hello", strings.Repeat("z", 100000), "b"}, nil},
		{transport.Line(), []string{"", "hello", "crlf\r", "mid\rcr", long, "\r"},
			[]string{"", "hello", "crlf", "mid\rcr", long, ""}},
	}
	for _, tc := range tests {
		for name, split := range splits {
			t.Run(tc.framer.Name()+"/"+name, func(t *testing.T) {
				want := tc.want
				if want == nil {
					want = tc.payloads
				}
				rng := rand.New(rand.NewPCG(1, 2))
				wire := encodeAll(t, tc.framer, tc.payloads)
				frames, err := decodeStream(tc.framer, wire, 1<<20, split(rng))
				require.NoError(t, err)
				got := make([]string, len(frames))
				for i, f := range frames {
					got[i] = string(f)
				}
				assert.Equal(t, want, got)
			})
		}
	}
}

func TestRawInSplits(t *testing.T) {
	stream := bytes.Repeat([]byte("raw bytes\n"), 1000)
	for name, split := range splits {
		t.Run(name, func(t *testing.T) {
			frames, err := decodeStream(transport.Raw(), stream, 64, split(rand.New(rand.NewPCG(3, 4))))
			require.NoError(t, err)
			for _, f := range frames {
				require.LessOrEqual(t, len(f), 64)
				require.NotEmpty(t, f)
			}
			assert.Equal(t, stream, bytes.Join(frames, nil))
		})
	}
}

func TestRawDecode(t *testing.T) {
	raw := transport.Raw()
	frame, n, err := raw.Decode(nil, 10)
	assert.NoError(t, err)
	assert.Zero(t, n, "an empty buffer needs more bytes")
	assert.Empty(t, frame)

	frame, n, err = raw.Decode([]byte("abcdef"), 4)
	require.NoError(t, err)
	assert.Equal(t, "abcd", string(frame))
	assert.Equal(t, 4, n)

	_, n, err = raw.Decode([]byte("a"), 0)
	require.ErrorIs(t, err, transport.ErrFrameTooLarge, "nothing fits a max of 0")
	assert.Zero(t, n)
	assert.True(t, raw == transport.Raw())
	assert.False(t, transport.Line() == transport.Raw())
}

func TestLengthWire(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{1, []byte{2, 'h', 'i'}},
		{2, []byte{0, 2, 'h', 'i'}},
		{4, []byte{0, 0, 0, 2, 'h', 'i'}},
	} {
		f := transport.Length(tc.n)
		wire, err := f.Encode([]byte("pre"), []byte("hi"))
		require.NoError(t, err)
		assert.Equal(t, append([]byte("pre"), tc.want...), wire, "Encode appends to dst")

		for k := range len(tc.want) {
			frame, n, err := f.Decode(tc.want[:k], 10)
			require.NoError(t, err)
			assert.Zero(t, n, "%d of %d bytes need more", k, len(tc.want))
			assert.Nil(t, frame)
		}
		frame, n, err := f.Decode(append(tc.want, "next"...), 10)
		require.NoError(t, err)
		assert.Equal(t, "hi", string(frame))
		assert.Equal(t, len(tc.want), n)
		assert.Equal(t, len(frame), cap(frame), "the frame cannot be appended into the next one")
	}
}

func TestLengthTooLarge(t *testing.T) {
	for _, tc := range []struct {
		n        int
		header   []byte
		max      int
		announce string
	}{
		{1, []byte{255}, 254, "255"},
		{2, []byte{0xff, 0xff}, 1000, "65535"},
		{4, []byte{0x40, 0, 0, 0}, transport.DefaultMaxFrame, "1073741824"},
		{4, []byte{0xff, 0xff, 0xff, 0xff}, transport.DefaultMaxFrame, "4294967295"},
		{1, []byte{1}, -5, "1"},
	} {
		frame, n, err := transport.Length(tc.n).Decode(tc.header, tc.max)
		require.ErrorIs(t, err, transport.ErrFrameTooLarge, "the header alone is enough to refuse")
		assert.Contains(t, err.Error(), tc.announce)
		assert.Zero(t, n)
		assert.Nil(t, frame)
	}
	// Exactly max is fine.
	frame, n, err := transport.Length(1).Decode([]byte{3, 'a', 'b', 'c'}, 3)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(frame))
	assert.Equal(t, 4, n)
}

func TestLengthEncodeTooLarge(t *testing.T) {
	_, err := transport.Length(1).Encode(nil, make([]byte, 256))
	require.ErrorIs(t, err, transport.ErrFrameTooLarge)
	_, err = transport.Length(2).Encode(nil, make([]byte, 1<<16))
	require.ErrorIs(t, err, transport.ErrFrameTooLarge)
	wire, err := transport.Length(2).Encode(nil, make([]byte, 1<<16-1))
	require.NoError(t, err)
	assert.Len(t, wire, 1<<16+1)
}

func TestLengthPanicsOnBadWidth(t *testing.T) {
	for _, n := range []int{-1, 0, 3, 8} {
		assert.Panics(t, func() { transport.Length(n) }, "Length(%d)", n)
	}
}

func TestLineDecode(t *testing.T) {
	tests := []struct {
		in     string
		max    int
		frame  string
		n      int
		tooBig bool
	}{
		{"a\n", 10, "a", 2, false},
		{"a\r\n", 10, "a", 3, false},
		{"\n", 10, "", 1, false},
		{"\r\n", 10, "", 2, false},
		{"a\rb\nrest", 10, "a\rb", 4, false},
		{"abc", 10, "", 0, false},
		{"ab\r", 2, "", 0, false},
		{"ab\r\n", 2, "ab", 4, false},
		{"ab\n", 2, "ab", 3, false},
		{"abc", 2, "", 0, true},
		{"abc\n", 2, "", 0, true},
		{"abcd\r\n", 2, "", 0, true},
		{"ab\rc", 2, "", 0, true},
		{strings.Repeat("x", 100) + "\n", 50, "", 0, true},
		{"\n", 0, "", 1, false},
		{"\r", 0, "", 0, false},
		{"x", 0, "", 0, true},
		{"xy", 0, "", 0, true},
	}
	for _, tc := range tests {
		frame, n, err := transport.Line().Decode([]byte(tc.in), tc.max)
		if tc.tooBig {
			assert.ErrorIs(t, err, transport.ErrFrameTooLarge, "%q max %d", tc.in, tc.max)
			assert.Zero(t, n)
			continue
		}
		require.NoError(t, err, "%q max %d", tc.in, tc.max)
		assert.Equal(t, tc.frame, string(frame), "%q max %d", tc.in, tc.max)
		assert.Equal(t, tc.n, n, "%q max %d", tc.in, tc.max)
	}
}

func TestLineEncode(t *testing.T) {
	wire, err := transport.Line().Encode([]byte("a\n"), []byte("b"))
	require.NoError(t, err)
	assert.Equal(t, "a\nb\n", string(wire))
	wire, err = transport.Line().Encode(nil, []byte("crlf\r"))
	require.NoError(t, err)
	assert.Equal(t, "crlf\r\n", string(wire), "a payload ending in CR goes out as a CRLF line")
	wire, err = transport.Line().Encode([]byte("keep"), []byte("two\nlines"))
	require.ErrorIs(t, err, transport.ErrBadFrame)
	assert.Equal(t, "keep", string(wire))
}

func TestFramerNames(t *testing.T) {
	for name, f := range map[string]transport.Framer{
		"raw": transport.Raw(), "line": transport.Line(),
		"1": transport.Length(1), "2": transport.Length(2), "4": transport.Length(4),
	} {
		assert.Equal(t, name, f.Name())
		parsed, err := transport.ParseFramer(name)
		require.NoError(t, err)
		assert.Equal(t, f, parsed)
	}
	for _, bad := range []string{"", "3", "RAW", "packet"} {
		_, err := transport.ParseFramer(bad)
		assert.ErrorIs(t, err, transport.ErrInvalidOptions, "%q", bad)
	}
}

// TestDecodeDoesNotAllocate: finding a frame, or learning that more bytes
// are needed, allocates nothing.
func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, f := range []transport.Framer{transport.Raw(), transport.Line(), transport.Length(1), transport.Length(2), transport.Length(4)} {
		wire := encodeAll(t, f, []string{"hello, world"})
		for name, buf := range map[string][]byte{"whole": wire, "partial": wire[:len(wire)-1], "empty": nil} {
			allocs := testing.AllocsPerRun(100, func() {
				if _, _, err := f.Decode(buf, 1<<20); err != nil {
					panic(err)
				}
			})
			assert.Zero(t, allocs, "%s %s", f.Name(), name)
		}
	}
}

// TestOversizeDoesNotAllocateFrame: a header announcing 1 GiB is refused at
// once. The only allocations are the error's (fmt.Errorf naming both
// sizes): a few bytes, nothing near the announced size.
func TestOversizeDoesNotAllocateFrame(t *testing.T) {
	header := []byte{0x40, 0, 0, 0, 'x'} // 1 GiB
	cases := map[string]struct {
		f   transport.Framer
		buf []byte
	}{
		"4":    {transport.Length(4), header},
		"line": {transport.Line(), bytes.Repeat([]byte("y"), 4096)},
	}
	for name, tc := range cases {
		var errs int
		const runs = 100
		allocs := testing.AllocsPerRun(runs, func() {
			if _, _, err := tc.f.Decode(tc.buf, 1024); errors.Is(err, transport.ErrFrameTooLarge) {
				errs++
			}
		})
		assert.Equal(t, runs+1, errs, name)
		t.Logf("%s: %.0f small allocations for the error", name, allocs)

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			_, _, _ = tc.f.Decode(tc.buf, 1024)
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / runs
		assert.Less(t, perRun, uint64(512), "%s: %d bytes allocated per refused frame", name, perRun)
	}
}
