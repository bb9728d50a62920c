package transport

import "fmt"

// Framer splits a byte stream into frames and frames outgoing packets: the
// Go form of Erlang's {packet, N} socket option. Implementations hold no
// per-connection state and must be safe for concurrent use.
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
