package transports_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// A split cuts the next write off the bytes left to send.
type split func(rest int) int

var splits = map[string]func(*rand.Rand) split{
	"OneByte":  func(*rand.Rand) split { return func(int) int { return 1 } },
	"Random":   func(r *rand.Rand) split { return func(rest int) int { return 1 + r.IntN(min(rest, 3000)) } },
	"OneWrite": func(*rand.Rand) split { return func(rest int) int { return rest } },
}

// framingCase is what a peer sends through an echo server with one
// framing, as wire bytes, and the frames that must come back.
type framingCase struct {
	framer transport.Framer
	wire   func(small bool) (wire []byte, frames []string)
}

func payloads(small bool, sizes ...int) []string {
	out := []string{"", "hello", "\x00\x01\x02 binary \xff"}
	if small {
		return append(out, strings.Repeat("s", 200))
	}
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte('a' + (i+j)%26)
		}
		out = append(out, string(b))
	}
	return out
}

func encode(t *testing.T, f transport.Framer, frames []string) []byte {
	t.Helper()
	var wire []byte
	for _, p := range frames {
		var err error
		wire, err = f.Encode(wire, []byte(p))
		require.NoError(t, err)
	}
	return wire
}

func TestFramingThroughEcho(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	cases := []framingCase{
		{transport.Length(1), func(small bool) ([]byte, []string) {
			f := payloads(small, 255, 1, 254, 255, 100)
			return encode(t, transport.Length(1), f), f
		}},
		{transport.Length(2), func(small bool) ([]byte, []string) {
			f := payloads(small, 65535, 20000, 3, 40000)
			return encode(t, transport.Length(2), f), f
		}},
		{transport.Length(4), func(small bool) ([]byte, []string) {
			f := payloads(small, 100000, 16384, 16385, 7)
			return encode(t, transport.Length(4), f), f
		}},
		{transport.Line(), func(small bool) ([]byte, []string) {
			// LF and CRLF lines, a lone CR inside a line, empty lines.
			var wire []byte
			var frames []string
			lines := []string{"plain", "", "cr\rinside", "tab\tand spaces  ", "", "last"}
			if !small {
				lines = append(lines, strings.Repeat("L", 50000), strings.Repeat("M", 16383))
			}
			for i, l := range lines {
				end := "\n"
				if i%2 == 1 {
					end = "\r\n"
				}
				wire = append(wire, l+end...)
				frames = append(frames, l)
			}
			return wire, frames
		}},
	}
	for _, tc := range cases {
		for name, mk := range splits {
			t.Run(tc.framer.Name()+"/"+name, func(t *testing.T) {
				wire, frames := tc.wire(name == "OneByte")
				got := echoThrough(t, tc.framer, wire, mk(rng), len(encode(t, tc.framer, frames)))
				back, err := decodeAll(tc.framer, got)
				require.NoError(t, err)
				require.Equal(t, len(frames), len(back), "frames echoed")
				for i := range frames {
					require.Equal(t, frames[i], back[i], "frame %d", i)
				}
				assert.Equal(t, encode(t, tc.framer, frames), got, "re-framed the same way")
			})
		}
	}
	for name, mk := range splits {
		t.Run("raw/"+name, func(t *testing.T) {
			n := 200000
			if name == "OneByte" {
				n = 3000
			}
			wire := make([]byte, n)
			for i := range wire {
				wire[i] = byte(rng.Uint32())
			}
			got := echoThrough(t, transport.Raw(), wire, mk(rng), len(wire))
			assert.True(t, bytes.Equal(wire, got), "raw bytes come back unchanged")
		})
	}
}

// echoThrough starts an echo server with framer f, writes wire in the
// splits cut, and returns the want bytes that come back.
func echoThrough(t *testing.T, f transport.Framer, wire []byte, cut split, want int) []byte {
	t.Helper()
	return echoThroughWith(t, testkit.NewEcho, []transport.Option{transport.WithFramer(f)}, wire, cut, want)
}

// echoThroughWith is echoThrough with a server of handlers made by echo
// and the socket options opts.
func echoThroughWith(t *testing.T, echo behaviours.Factory, opts []transport.Option, wire []byte, cut split, want int) []byte {
	t.Helper()
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", echo, nil, actors.WithSocket(opts...))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	c.(*net.TCPConn).SetNoDelay(true)

	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, want)
		n, err := io.ReadFull(c, b)
		if err != nil {
			b = append(b[:n], "\nREAD ERROR: "+err.Error()...)
		}
		got <- b
	}()
	for rest := wire; len(rest) > 0; {
		k := cut(len(rest))
		_, err := c.Write(rest[:k])
		require.NoError(t, err)
		rest = rest[k:]
	}
	b := testkit.Recv(t, got)
	// Nothing more than the echo comes back.
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	extra, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Empty(t, extra, "bytes beyond the echo")
	return b
}

func decodeAll(f transport.Framer, buf []byte) ([]string, error) {
	var out []string
	for len(buf) > 0 {
		frame, n, err := f.Decode(buf, 1<<20)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, errors.New("a partial frame at the end")
		}
		out = append(out, string(frame))
		buf = buf[n:]
	}
	return out, nil
}

// ender reports the reason its connection ended.
type ender struct {
	behaviours.Base
	reasons chan<- error
}

func (h ender) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

func (h ender) Terminate(_ behaviours.Conn, reason error) error {
	h.reasons <- reason
	return reason
}

func TestOversizedFrame(t *testing.T) {
	const max = 1024
	for _, tc := range []struct {
		name   string
		framer transport.Framer
		ok     []byte // a frame that fits, echoed first
		bad    []byte
	}{
		{"Length4", transport.Length(4), []byte{0, 0, 0, 2, 'o', 'k'}, []byte{0x40, 0, 0, 0, 'x', 'y', 'z'}},
		{"Length2", transport.Length(2), []byte{0, 2, 'o', 'k'}, []byte{0x04, 0x01}},
		{"Line", transport.Line(), []byte("ok\n"), bytes.Repeat([]byte("y"), 4*max)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			reasons := make(chan error, 1)
			srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return ender{reasons: reasons} }, nil,
				actors.WithSocket(transport.WithFramer(tc.framer), transport.WithMaxFrame(max)))
			c := testkit.DialRaw(t, "tcp", srv.Addr().String())
			testkit.Write(t, c, string(tc.ok))
			require.Equal(t, tc.ok, testkit.ReadN(t, c, len(tc.ok)))

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Write(tc.bad)
			require.NoError(t, err)
			reason := testkit.Recv(t, reasons)
			runtime.ReadMemStats(&after)

			require.ErrorIs(t, reason, transport.ErrFrameTooLarge)
			grown := after.TotalAlloc - before.TotalAlloc
			assert.Less(t, grown, uint64(1<<20), "%d bytes allocated refusing the frame", grown)
			t.Logf("reason %q; %d bytes allocated", reason, grown)

			// The peer sees the connection end, with nothing more echoed.
			n, err := c.Read(make([]byte, 1))
			assert.Zero(t, n)
			assert.Error(t, err)
			require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 0 }, testkit.Wait, time.Millisecond)
		})
	}
}
