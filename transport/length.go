package transport

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Length returns the framer for a big-endian length prefix of n bytes, as
// Erlang's {packet, N}: n is 1, 2 or 4. Encode prepends the payload's length;
// Decode strips it and rejects a frame announcing more than max bytes as soon
// as the header arrives, without allocating what it announced.
//
// Length panics for any other n: that is a programming error. Use
// [ParseFramer] for a width that comes from input.
func Length(n int) Framer {
	switch n {
	case 1, 2, 4:
		return lengthFramer{width: n}
	}
	panic(fmt.Sprintf("etcp/transport: Length(%d): the prefix width must be 1, 2 or 4", n))
}

type lengthFramer struct{ width int }

func (f lengthFramer) Name() string {
	switch f.width {
	case 1:
		return "1"
	case 2:
		return "2"
	}
	return "4"
}

// limit is the largest payload the prefix can announce.
func (f lengthFramer) limit() uint64 { return 1<<(8*f.width) - 1 }

func (f lengthFramer) Decode(buf []byte, max int) ([]byte, int, error) {
	if len(buf) < f.width {
		return nil, 0, nil
	}
	var size uint64
	switch f.width {
	case 1:
		size = uint64(buf[0])
	case 2:
		size = uint64(binary.BigEndian.Uint16(buf))
	default:
		size = uint64(binary.BigEndian.Uint32(buf))
	}
	if max < 0 {
		max = 0
	}
	if size > uint64(max) {
		return nil, 0, fmt.Errorf("%w: header announces %d bytes, max is %d", ErrFrameTooLarge, size, max)
	}
	end := f.width + int(size)
	if len(buf) < end {
		return nil, 0, nil
	}
	return buf[f.width:end:end], end, nil
}

func (f lengthFramer) Encode(dst, p []byte) ([]byte, error) {
	if uint64(len(p)) > f.limit() {
		return dst, fmt.Errorf("%w: %d-byte packet does not fit a %d-byte length prefix (at most %d)",
			ErrFrameTooLarge, len(p), f.width, f.limit())
	}
	dst = slices.Grow(dst, f.width+len(p))
	switch f.width {
	case 1:
		dst = append(dst, byte(len(p)))
	case 2:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p)))
	default:
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	}
	return append(dst, p...), nil
}
