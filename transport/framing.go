package transport

import "fmt"

// Framer splits a byte stream into frames and frames outgoing packets: the
// Go form of Erlang's {packet, N} socket option. Implementations hold no
// per-connection state and must be safe for concurrent use (a [Resumer]
// gives the connection what it needs to keep).
type Framer interface {
	// Name is a short name such as "raw", "line" or "4".
	Name() string
	// Decode looks for one complete frame at the start of buf. It returns the
	// frame's payload (a sub-slice of buf) and how many bytes of buf the frame
	// used, or n == 0 when more bytes are needed. A frame larger than max
	// returns an error wrapping [ErrFrameTooLarge] as soon as its size is
	// known; Decode never allocates.
	Decode(buf []byte, max int) (frame []byte, n int, err error)
	// Encode appends p, framed, to dst and returns the extended slice.
	Encode(dst, p []byte) ([]byte, error)
}

// Resumer is a [Framer] that resumes an incomplete frame where its last
// call stopped. A Framer keeps nothing between calls, so when a frame
// arrives over many reads, Decode scans it again from its start on every
// read: a frame of k reads costs k times its size. A connection whose
// framer is a Resumer keeps the [ScanState] that DecodeFrom returns for an
// incomplete frame and passes it back with the frame's next bytes, so the
// frame is scanned once. Connections call Decode on framers that are not
// Resumers.
type Resumer interface {
	Framer
	// DecodeFrom is Decode resumed from s: it returns the frame, n and
	// error that Decode(buf, max) returns, and, when the frame is
	// incomplete (n == 0 and no error), the state to pass back with the
	// same bytes and more behind them. s is either the zero value, or the
	// state that the last DecodeFrom returned for a prefix of buf (the
	// same frame start, with fewer bytes), with the same max. next is the
	// zero value whenever n > 0 or err != nil. DecodeFrom allocates no
	// more than Decode.
	DecodeFrom(buf []byte, max int, s ScanState) (frame []byte, n int, next ScanState, err error)
}

// ScanState is where a [Resumer] stopped in a frame it found incomplete,
// relative to the frame's first byte, so it stays valid when the bytes
// move to another buffer. The zero value is the start of a frame. The
// fields mean what the framer makes them mean: conventionally Pos is how
// many bytes of the frame were examined and need not be again, and N a
// count of items (lines, arguments) found complete before Pos. The
// connection only keeps the value between reads. It is 8 bytes, since
// every connection holds one: a framer whose position does not fit in a
// uint32 (a frame past 4 GiB) returns the zero value, and its next call
// starts over.
type ScanState struct {
	Pos uint32 // conventionally, how many bytes of the frame were examined
	N   uint32 // conventionally, how many items were found complete before Pos
}

// Raw returns the framer that delivers bytes as they arrive, with no
// framing: each read is one packet, and packets are sent as they are.
// Every Raw() is equal to every other, so f == Raw() tells it apart.
func Raw() Framer { return rawFramer{} }

type rawFramer struct{}

func (rawFramer) Name() string { return "raw" }

func (rawFramer) Decode(buf []byte, max int) ([]byte, int, error) {
	if len(buf) > max {
		if max <= 0 {
			return nil, 0, errNothingFits
		}
		buf = buf[:max]
	}
	return buf[:len(buf):len(buf)], len(buf), nil
}

// errNothingFits: a maximum frame size of zero or less leaves no room for
// any raw byte; returning an empty packet instead would spin the reader.
var errNothingFits = fmt.Errorf("%w: maximum frame size is not positive", ErrFrameTooLarge)

func (rawFramer) Encode(dst, p []byte) ([]byte, error) { return append(dst, p...), nil }

// ParseFramer returns the framer with the given [Framer.Name]: "raw",
// "line", "1", "2" or "4" (for command-line flags and configuration). Any
// other name is an error wrapping [ErrInvalidOptions].
func ParseFramer(name string) (Framer, error) {
	switch name {
	case "raw":
		return Raw(), nil
	case "line":
		return Line(), nil
	case "1":
		return Length(1), nil
	case "2":
		return Length(2), nil
	case "4":
		return Length(4), nil
	}
	return nil, fmt.Errorf("%w: unknown framing %q (want raw, line, 1, 2 or 4)", ErrInvalidOptions, name)
}
