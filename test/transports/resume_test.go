package transports_test

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// checkedLine is a line framer that is a transport.Resumer and checks
// that the connection keeps its side of the bargain. Its state carries,
// besides how many bytes were searched, a CRC of them; every resumed call
// checks that its buffer still starts with those bytes (wherever the
// connection moved them), and counts what it sees.
type checkedLine struct{ st *resumeStats }

type resumeStats struct {
	calls      atomic.Int64 // DecodeFrom calls
	resumed    atomic.Int64 // calls given a state that is not the zero value
	mismatched atomic.Int64 // calls given a state that does not describe their buffer
	examined   atomic.Int64 // bytes searched for an LF
}

func (checkedLine) Name() string { return "checked-line" }

func (f checkedLine) Decode(buf []byte, max int) ([]byte, int, error) {
	frame, n, _, err := f.DecodeFrom(buf, max, transport.ScanState{})
	return frame, n, err
}

func (f checkedLine) DecodeFrom(buf []byte, max int, s transport.ScanState) ([]byte, int, transport.ScanState, error) {
	f.st.calls.Add(1)
	from := int(s.Pos)
	if s != (transport.ScanState{}) {
		f.st.resumed.Add(1)
		if from > len(buf) || crc32.ChecksumIEEE(buf[:from]) != s.N {
			f.st.mismatched.Add(1)
			from = 0
		}
	}
	i := bytes.IndexByte(buf[from:], '\n')
	if i < 0 {
		f.st.examined.Add(int64(len(buf) - from))
		if len(buf) > max {
			return nil, 0, transport.ScanState{}, fmt.Errorf("%w: line over %d bytes", transport.ErrFrameTooLarge, max)
		}
		return nil, 0, transport.ScanState{Pos: uint32(len(buf)), N: crc32.ChecksumIEEE(buf)}, nil
	}
	f.st.examined.Add(int64(i + 1))
	end := from + i
	return buf[:end:end], end + 1, transport.ScanState{}, nil
}

func (checkedLine) Encode(dst, p []byte) ([]byte, error) { return append(append(dst, p...), '\n'), nil }

// passiveEcho echoes in passive mode, asking for one frame at a time.
type passiveEcho struct{ behaviours.Base }

func (passiveEcho) Init(behaviours.Conn, any) behaviours.Result {
	return behaviours.Recv(0, behaviours.Never)
}

func (passiveEcho) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p).Recv(0, behaviours.Never)
}

// hibernatingEcho echoes and hibernates after every line: the connection
// passivates with part of the next line pending.
type hibernatingEcho struct{ behaviours.Base }

func (hibernatingEcho) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p).Hibernate()
}

// TestResumerThroughConnection: a connection whose framer is a Resumer
// hands back the state of an incomplete frame with the frame's bytes and
// more, wherever it keeps them, so that long lines arriving in many small
// writes are echoed whole and each byte is searched once. Hibernating
// after a line lets go of the state with the actor: the line pending then
// is searched once more, from its start, and never from a stale state.
func TestResumerThroughConnection(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	var wire []byte
	for i := range 60 {
		n := rng.IntN(200)
		if i%6 == 0 {
			n = 20000 + rng.IntN(80000)
		}
		wire = append(wire, strings.Repeat(string(rune('a'+i%26)), n)+"\n"...)
	}
	for _, tc := range []struct {
		name    string
		handler behaviours.Factory
		opts    []transport.Option
		rescans bool // the state may be let go, and a frame searched again
	}{
		{"Active", testkit.NewEcho, nil, false},
		{"Passive", func() behaviours.Handler { return passiveEcho{} }, []transport.Option{transport.WithPassive()}, false},
		{"Hibernating", func() behaviours.Handler { return hibernatingEcho{} }, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &resumeStats{}
			f := checkedLine{st: st}
			got := echoThroughWith(t, tc.handler, append([]transport.Option{transport.WithFramer(f)}, tc.opts...),
				wire, func(rest int) int { return 1 + rng.IntN(min(rest, 3000)) }, len(wire))
			require.Equal(t, string(wire), string(got), "every line echoed whole")

			assert.Zero(t, st.mismatched.Load(), "states that did not describe the pending frame")
			assert.Positive(t, st.resumed.Load(), "no incomplete frame was resumed")
			if tc.rescans {
				assert.LessOrEqual(t, st.examined.Load(), int64(2*len(wire)), "bytes searched")
			} else {
				assert.Equal(t, int64(len(wire)), st.examined.Load(), "every byte searched once")
			}
			t.Logf("%d bytes: %d calls, %d resumed, %d bytes searched", len(wire), st.calls.Load(), st.resumed.Load(), st.examined.Load())
		})
	}
}
