package transport

import (
	"bytes"
	"fmt"
	"math"
)

// Line returns the framer for LF-terminated lines, as Erlang's
// {packet, line}. Decode accepts LF and CRLF endings and strips them; the
// maximum frame size bounds the line without its ending, and a longer line
// fails with [ErrFrameTooLarge] as soon as max bytes have come without an
// LF. Encode appends "\n"; a payload that ends in CR therefore goes out as a
// CRLF line, and a payload holding an LF fails with [ErrBadFrame].
//
// Its framer is a [Resumer]: a long line arriving over many reads is
// searched for its LF once, not again from its start on every read.
func Line() Framer { return lineFramer{} }

type lineFramer struct{}

func (lineFramer) Name() string { return "line" }

func (f lineFramer) Decode(buf []byte, max int) ([]byte, int, error) {
	frame, n, _, err := f.DecodeFrom(buf, max, ScanState{})
	return frame, n, err
}

// DecodeFrom resumes the search for the LF where the last call stopped:
// s.Pos is how many bytes were searched, none an LF.
func (lineFramer) DecodeFrom(buf []byte, max int, s ScanState) ([]byte, int, ScanState, error) {
	switch {
	case max < 0:
		max = 0
	case max > math.MaxInt-2:
		max = math.MaxInt - 2
	}
	// The ending of a line of max bytes is at index max+1 at the latest
	// (after a CR), so a longer search cannot find a line that fits: it
	// would only rescan bytes on every read of a slow, endless line.
	scan := buf
	if len(scan) > max+2 {
		scan = scan[:max+2]
	}
	from := int(s.Pos)
	if from > len(scan) {
		from = 0 // not a state of this buffer: start over
	}
	i := bytes.IndexByte(scan[from:], '\n')
	if i < 0 {
		if len(buf) > max+1 || (len(buf) == max+1 && buf[max] != '\r') {
			return nil, 0, ScanState{}, fmt.Errorf("%w: line longer than %d bytes", ErrFrameTooLarge, max)
		}
		return nil, 0, searched(len(scan)), nil
	}
	i += from
	end := i
	if end > 0 && buf[end-1] == '\r' {
		end--
	}
	if end > max {
		return nil, 0, ScanState{}, fmt.Errorf("%w: %d-byte line, max is %d", ErrFrameTooLarge, end, max)
	}
	return buf[:end:end], i + 1, ScanState{}, nil
}

// searched is the state of a line whose first n bytes hold no LF (past
// 4 GiB, the zero value: the next call starts over).
func searched(n int) ScanState {
	if uint64(n) > math.MaxUint32 {
		return ScanState{}
	}
	return ScanState{Pos: uint32(n)}
}

var _ Resumer = lineFramer{}

func (lineFramer) Encode(dst, p []byte) ([]byte, error) {
	if bytes.IndexByte(p, '\n') >= 0 {
		return dst, fmt.Errorf("%w: a line payload cannot hold an LF", ErrBadFrame)
	}
	return append(append(dst, p...), '\n'), nil
}
