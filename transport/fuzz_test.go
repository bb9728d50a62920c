package transport_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/etcp-go/etcp/transport"
)

func FuzzLength1(f *testing.F) { fuzzFramer(f, transport.Length(1)) }
func FuzzLength2(f *testing.F) { fuzzFramer(f, transport.Length(2)) }
func FuzzLength4(f *testing.F) { fuzzFramer(f, transport.Length(4)) }
func FuzzLine(f *testing.F)    { fuzzFramer(f, transport.Line()) }
func FuzzRaw(f *testing.F)     { fuzzFramer(f, transport.Raw()) }

// fuzzFramer checks, for any bytes and any max, that Decode never panics,
// never claims more bytes than it got, never returns a frame over max, and
// that what Encode writes decodes back, whole or in pieces; and, for a
// Resumer, that resuming byte after byte gives what Decode gives.
func fuzzFramer(f *testing.F, fr transport.Framer) {
	for _, seed := range []struct {
		data []byte
		max  int
	}{
		{nil, 0},
		{[]byte("x"), -1},
		{[]byte("hello"), 16},
		{[]byte("hello\r\nworld\n"), 5},
		{[]byte("\r\n\n\r"), 1},
		{[]byte{0, 0, 0, 0}, -1},
		{[]byte{5, 'h', 'e', 'l', 'l', 'o'}, 5},
		{[]byte{0, 5, 'h', 'e', 'l', 'l', 'o', 0}, 4},
		{[]byte{0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}, 1 << 20},
		{[]byte{0x40, 0, 0, 0}, 1 << 20},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff}, 1<<63 - 1},
		{bytes.Repeat([]byte("x"), 300), 255},
	} {
		f.Add(seed.data, seed.max)
	}
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		checkDecode(t, fr, data, limit)
		checkResume(t, fr, data, limit)
		checkRoundTrip(t, fr, data)
	})
}

func checkDecode(t *testing.T, fr transport.Framer, buf []byte, limit int) {
	bound := max(limit, 0)
	for {
		frame, n, err := fr.Decode(buf, limit)
		if err != nil {
			if !errors.Is(err, transport.ErrFrameTooLarge) && !errors.Is(err, transport.ErrBadFrame) {
				t.Fatalf("Decode error %v is neither ErrFrameTooLarge nor ErrBadFrame", err)
			}
			if n != 0 || frame != nil {
				t.Fatalf("Decode returned n=%d frame=%q with error %v", n, frame, err)
			}
			return
		}
		if n < 0 || n > len(buf) {
			t.Fatalf("Decode used %d bytes of %d", n, len(buf))
		}
		if len(frame) > bound {
			t.Fatalf("Decode returned a %d-byte frame, max %d", len(frame), limit)
		}
		if len(frame) > n {
			t.Fatalf("Decode returned a %d-byte frame from %d bytes", len(frame), n)
		}
		if n == 0 {
			if len(frame) != 0 {
				t.Fatalf("Decode needs more bytes but returned frame %q", frame)
			}
			return
		}
		buf = buf[n:]
	}
}

func checkRoundTrip(t *testing.T, fr transport.Framer, p []byte) {
	wire, err := fr.Encode([]byte("dst"), p)
	if err != nil {
		if !errors.Is(err, transport.ErrFrameTooLarge) && !errors.Is(err, transport.ErrBadFrame) {
			t.Fatalf("Encode error %v is neither ErrFrameTooLarge nor ErrBadFrame", err)
		}
		if fr.Name() == "line" && bytes.IndexByte(p, '\n') < 0 {
			t.Fatalf("Encode refused a line without LF: %v", err)
		}
		return
	}
	if !bytes.HasPrefix(wire, []byte("dst")) {
		t.Fatalf("Encode did not append to dst: %q", wire)
	}
	wire = wire[3:]
	want := p
	if fr.Name() == "line" {
		want = bytes.TrimSuffix(p, []byte("\r"))
	}
	if len(p) == 0 && fr == transport.Raw() {
		return // nothing on the wire, nothing to decode
	}
	// Whole, with the next frame's bytes behind it.
	frame, n, err := fr.Decode(append(bytes.Clone(wire), wire...), len(want))
	if err != nil || n != len(wire) || !bytes.Equal(frame, want) {
		t.Fatalf("Decode(Encode(%q)) = %q, %d, %v; want %q, %d", p, frame, n, err, want, len(wire))
	}
	if fr == transport.Raw() {
		return // raw delivers pieces as they come
	}
	// In pieces: every proper prefix needs more bytes.
	for k := range len(wire) {
		frame, n, err := fr.Decode(wire[:k], len(want))
		if err != nil || n != 0 || frame != nil {
			t.Fatalf("Decode of %d/%d bytes = %q, %d, %v; want more needed", k, len(wire), frame, n, err)
		}
	}
}
