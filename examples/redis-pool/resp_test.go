package main

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
)

// respSeeds are replies (and broken replies) for the tests and the fuzz
// seed corpus.
var respSeeds = []string{
	"+OK\r\n",
	"-ERR unknown command\r\n",
	":0\r\n", ":-42\r\n", ":9223372036854775807\r\n", ":-9223372036854775808\r\n",
	"$5\r\nhello\r\n", "$0\r\n\r\n", "$-1\r\n", "$5\r\nhe\r\nl\r\n",
	"*0\r\n", "*-1\r\n", "*2\r\n$3\r\nfoo\r\n:1\r\n",
	"*2\r\n*2\r\n+a\r\n-b\r\n*1\r\n$-1\r\n",
	"*3\r\n*1\r\n*1\r\n*0\r\n$1\r\nx\r\n:7\r\n",
	"+OK\r\n+NEXT\r\n", "$3\r\nfoo", "*2\r\n+a\r\n", "+OK\r", "+OK",
	"?x\r\n", "+a\nb\r\n", "+OK\rX", ":1x\r\n", ":\r\n", "$-2\r\n", "*-5\r\n",
	"$3\r\nfooXY", "$99999999999999999999\r\n", "*9223372036854775807\r\n",
	"$9223372036854775807\r\n", "*3000000000000000000\r\n:1\r\n",
}

func TestRESPDecode(t *testing.T) {
	fr := RESP()
	assert.Equal(t, "resp", fr.Name())
	for _, tc := range []struct {
		in   string
		max  int
		n    int   // bytes of the frame; 0 for more needed
		want error // nil, ErrBadFrame or ErrFrameTooLarge
	}{
		{"", 10, 0, nil},
		{"+OK\r\n", 100, 5, nil},
		{"+OK\r\n+NEXT\r\n", 100, 5, nil},
		{"-ERR x\r\n", 100, 8, nil},
		{":-42\r\n", 100, 6, nil},
		{"$5\r\nhello\r\n", 100, 11, nil},
		{"$5\r\nhe\r\nl\r\n", 100, 11, nil},
		{"$0\r\n\r\n", 100, 6, nil},
		{"$-1\r\n", 100, 5, nil},
		{"*-1\r\n", 100, 5, nil},
		{"*0\r\n", 100, 4, nil},
		{"*2\r\n*2\r\n+a\r\n-b\r\n*1\r\n$-1\r\n", 100, 25, nil},
		{"*2\r\n$3\r\nfoo\r\n:1\r\n", 100, 17, nil},
		{"$5\r\nhello\r\n", 11, 11, nil},
		// More needed.
		{"+OK", 100, 0, nil},
		{"+OK\r", 100, 0, nil},
		{"$5\r\nhel", 100, 0, nil},
		{"$5\r\nhello\r", 100, 0, nil},
		{"*2\r\n+a\r\n", 100, 0, nil},
		{"*1\r\n*1\r\n*1\r\n", 100, 0, nil},
		// Too large, known as soon as possible.
		{"$5\r\nhello\r\n", 10, 0, transport.ErrFrameTooLarge},
		{"$1000\r\n", 100, 0, transport.ErrFrameTooLarge},
		{"*1000\r\n", 100, 0, transport.ErrFrameTooLarge},
		{"+aaaaaaaaaa", 5, 0, transport.ErrFrameTooLarge},
		{"+OK\r\n", 4, 0, transport.ErrFrameTooLarge},
		{"*9223372036854775807\r\n", math.MaxInt, 0, transport.ErrFrameTooLarge},
		{"+OK\r\n", 0, 0, transport.ErrFrameTooLarge},
		{"+OK\r\n", -1, 0, transport.ErrFrameTooLarge},
		// Malformed.
		{"?\r\n", 100, 0, transport.ErrBadFrame},
		{"+a\nb\r\n", 100, 0, transport.ErrBadFrame},
		{"+OK\rX", 100, 0, transport.ErrBadFrame},
		{":1x\r\n", 100, 0, transport.ErrBadFrame},
		{":\r\n", 100, 0, transport.ErrBadFrame},
		{":99999999999999999999\r\n", 100, 0, transport.ErrBadFrame},
		{":9223372036854775808\r\n", 100, 0, transport.ErrBadFrame},
		{"$-2\r\n", 100, 0, transport.ErrBadFrame},
		{"*-5\r\n", 100, 0, transport.ErrBadFrame},
		{"$3\r\nfooXY", 100, 0, transport.ErrBadFrame},
	} {
		frame, n, err := fr.Decode([]byte(tc.in), tc.max)
		if tc.want != nil {
			assert.ErrorIs(t, err, tc.want, "%q max %d", tc.in, tc.max)
			continue
		}
		require.NoError(t, err, "%q max %d", tc.in, tc.max)
		assert.Equal(t, tc.n, n, "%q max %d", tc.in, tc.max)
		assert.Equal(t, tc.in[:n], string(frame), "%q max %d", tc.in, tc.max)
	}
}

func TestRESPDecodeDoesNotAllocate(t *testing.T) {
	buf := []byte("*3\r\n*2\r\n+a\r\n:1\r\n$5\r\nhello\r\n$-1\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		if _, n, err := RESP().Decode(buf, 1<<20); n != len(buf) || err != nil {
			t.Fatal(n, err)
		}
		if _, _, err := RESP().Decode([]byte("$9999\r\n"), 100); err == nil {
			t.Fatal("want too large")
		}
	})
	assert.Zero(t, allocs)
}

func TestRESPEncode(t *testing.T) {
	cmd := appendCommand(nil, "SET", "k", "")
	assert.Equal(t, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", string(cmd))
	out, err := RESP().Encode([]byte("x"), cmd)
	require.NoError(t, err)
	assert.Equal(t, "x"+string(cmd), string(out))
	for _, bad := range []string{"", "+OK", "+OK\r\n+OK\r\n", "hello"} {
		_, err := RESP().Encode(nil, []byte(bad))
		assert.ErrorIs(t, err, transport.ErrBadFrame, "%q", bad)
	}
}

func TestParseReply(t *testing.T) {
	v, n, err := parseReply([]byte("*4\r\n+OK\r\n:-3\r\n$-1\r\n*1\r\n$2\r\nhi\r\n"))
	require.NoError(t, err)
	assert.Equal(t, 31, n)
	assert.Equal(t, []any{"OK", int64(-3), nil, []any{[]byte("hi")}}, v)
	v, _, err = parseReply([]byte("-ERR wrong\r\n"))
	require.NoError(t, err)
	assert.Equal(t, RedisError("ERR wrong"), v)
	assert.EqualError(t, v.(error), "redis: ERR wrong")
}

// FuzzRESP checks, for any bytes and any max, that Decode never panics,
// fails only with ErrFrameTooLarge or ErrBadFrame, never returns a frame
// over max or beyond the input, agrees with a plain recursive parser, and
// that a frame it finds decodes the same alone, needs more bytes when
// cut, and goes out unchanged through Encode.
func FuzzRESP(f *testing.F) {
	for _, s := range respSeeds {
		f.Add([]byte(s), 1<<20)
		f.Add([]byte(s), len(s)-1)
	}
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		fr := RESP()
		frame, n, err := fr.Decode(data, limit)
		checkDecoded(t, data, limit, frame, n, err)

		// Against the reference parser, with a bound that never binds.
		frame, n, err = fr.Decode(data, math.MaxInt)
		checkDecoded(t, data, math.MaxInt, frame, n, err)
		refN, refErr := refReply(data, 0)
		switch {
		case errors.Is(err, transport.ErrFrameTooLarge):
			// A length or count beyond MaxInt/2: the reference waits for
			// it, or finds the bytes after it malformed.
			if refN != 0 {
				t.Fatalf("Decode says too large, reference says n=%d err=%v", refN, refErr)
			}
			return
		case (err != nil) != (refErr != nil) || n != refN:
			t.Fatalf("Decode n=%d err=%v, reference n=%d err=%v", n, err, refN, refErr)
		}
		if n == 0 {
			return
		}
		if _, n2, err := fr.Decode(data[:n], n); n2 != n || err != nil {
			t.Fatalf("the frame alone with max %d: n=%d err=%v, want %d", n, n2, err, n)
		}
		if _, _, err := fr.Decode(data[:n], n-1); !errors.Is(err, transport.ErrFrameTooLarge) {
			t.Fatalf("the frame with max %d: err=%v, want too large", n-1, err)
		}
		if n <= 1024 {
			for k := range n {
				if _, nk, err := fr.Decode(data[:k], n); nk != 0 || err != nil {
					t.Fatalf("%d of its %d bytes: n=%d err=%v, want more needed", k, n, nk, err)
				}
			}
		}
		out, err := fr.Encode(nil, data[:n])
		if err != nil || !bytes.Equal(out, data[:n]) {
			t.Fatalf("Encode(frame) = %q, %v", out, err)
		}
		if n < len(data) {
			if _, err := fr.Encode(nil, data); !errors.Is(err, transport.ErrBadFrame) {
				t.Fatalf("Encode of a frame and more: err=%v", err)
			}
		}
	})
}

func checkDecoded(t *testing.T, data []byte, limit int, frame []byte, n int, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, transport.ErrFrameTooLarge) && !errors.Is(err, transport.ErrBadFrame) {
			t.Fatalf("error %v is neither ErrFrameTooLarge nor ErrBadFrame", err)
		}
		if n != 0 || frame != nil {
			t.Fatalf("n=%d frame=%q with error %v", n, frame, err)
		}
		return
	}
	if n < 0 || n > len(data) || n > max(limit, 0) {
		t.Fatalf("n=%d of %d bytes with max %d", n, len(data), limit)
	}
	if !bytes.Equal(frame, data[:n]) {
		t.Fatalf("frame %q is not the first %d bytes", frame, n)
	}
}

// refReply is a plain recursive RESP2 parser: the length of the reply at
// the start of b, 0 when incomplete, or an error when malformed.
func refReply(b []byte, depth int) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if depth > 10000 {
		return 0, errors.New("too deep for the reference")
	}
	cr := bytes.IndexByte(b[1:], '\r')
	lineEnd := len(b)
	if cr >= 0 {
		cr++
		lineEnd = cr
	}
	switch {
	case bytes.IndexByte(b[1:lineEnd], '\n') >= 0:
		return 0, errors.New("LF in line")
	case cr < 0 || cr == len(b)-1:
		return 0, nil
	case b[cr+1] != '\n':
		return 0, errors.New("CR without LF")
	}
	line := b[1:cr]
	end := cr
	next := end + 2
	num := func() (int64, error) {
		if len(line) == 0 || len(line) > 20 || line[0] == '+' || (line[0] == '-' && len(line) == 1) || (line[0] != '-' && len(line) > 19) {
			return 0, errors.New("bad int")
		}
		return strconv.ParseInt(string(line), 10, 64)
	}
	switch b[0] {
	case '+', '-':
		return next, nil
	case ':':
		if _, err := num(); err != nil {
			return 0, err
		}
		return next, nil
	case '$':
		l, err := num()
		switch {
		case err != nil || l < -1:
			return 0, errors.New("bad length")
		case l == -1:
			return next, nil
		case l > int64(len(b)-next-2):
			return 0, nil
		case b[next+int(l)] != '\r' || b[next+int(l)+1] != '\n':
			return 0, errors.New("bad bulk end")
		}
		return next + int(l) + 2, nil
	case '*':
		k, err := num()
		if err != nil || k < -1 {
			return 0, errors.New("bad count")
		}
		for range max(k, 0) {
			n, err := refReply(b[next:], depth+1)
			if err != nil || n == 0 {
				return 0, err
			}
			next += n
		}
		return next, nil
	}
	return 0, errors.New("bad type")
}
