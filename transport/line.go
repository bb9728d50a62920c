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
func Line() Framer { return lineFramer{} }

type lineFramer struct{}

func (lineFramer) Name() string { return "line" }

func (lineFramer) Decode(buf []byte, max int) ([]byte, int, error) {
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
	i := bytes.IndexByte(scan, '\n')
	if i < 0 {
		if len(buf) > max+1 || (len(buf) == max+1 && buf[max] != '\r') {
			return nil, 0, fmt.Errorf("%w: line longer than %d bytes", ErrFrameTooLarge, max)
		}
		return nil, 0, nil
	}
	end := i
	if end > 0 && buf[end-1] == '\r' {
		end--
	}
	if end > max {
		return nil, 0, fmt.Errorf("%w: %d-byte line, max is %d", ErrFrameTooLarge, end, max)
	}
	return buf[:end:end], i + 1, nil
}

func (lineFramer) Encode(dst, p []byte) ([]byte, error) {
	if bytes.IndexByte(p, '\n') >= 0 {
		return dst, fmt.Errorf("%w: a line payload cannot hold an LF", ErrBadFrame)
	}
	return append(append(dst, p...), '\n'), nil
}
