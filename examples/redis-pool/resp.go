package main

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/etcp-go/etcp/transport"
)

// RESP is the framer for Redis replies (RESP2): each frame is one
// complete reply, whatever its type: simple string (+), error (-),
// integer (:), bulk string ($, -1 for null) or array (*, -1 for null),
// with arrays nested to any depth. Decode walks the reply without
// recursion and without allocating (nested arrays only add to the count
// of elements still to read), and fails with transport.ErrFrameTooLarge
// as soon as the reply cannot fit in max bytes: a line not ended within
// max, a bulk length or an element count too large for what is left.
// Malformed bytes fail with transport.ErrBadFrame.
//
// Encode writes a packet that is already one complete RESP value (a
// command, encoded by [appendCommand]) as it is, and refuses anything
// else, so a connection can never send half a command.
func RESP() transport.Framer { return respFramer{} }

type respFramer struct{}

func (respFramer) Name() string { return "resp" }

// minElem is the size of the smallest RESP value ("+\r\n").
const minElem = 3

var (
	errTooLarge = fmt.Errorf("%w: RESP reply longer than the maximum frame", transport.ErrFrameTooLarge)
	errBadType  = fmt.Errorf("%w: unknown RESP type byte", transport.ErrBadFrame)
	errBadLine  = fmt.Errorf("%w: RESP line not ended by CRLF", transport.ErrBadFrame)
	errBadInt   = fmt.Errorf("%w: bad RESP integer", transport.ErrBadFrame)
	errBadBulk  = fmt.Errorf("%w: RESP bulk string not ended by CRLF", transport.ErrBadFrame)
)

func (respFramer) Decode(buf []byte, max int) ([]byte, int, error) {
	n, err := replyLen(buf, max)
	if err != nil || n == 0 {
		return nil, 0, err
	}
	return buf[:n:n], n, nil
}

func (respFramer) Encode(dst, p []byte) ([]byte, error) {
	n, err := replyLen(p, len(p))
	if err != nil || n == 0 || n != len(p) {
		return dst, fmt.Errorf("%w: a packet must be exactly one RESP value", transport.ErrBadFrame)
	}
	return append(dst, p...), nil
}

// replyLen is the length of the complete reply at the start of buf, or 0
// when more bytes are needed.
func replyLen(buf []byte, maxFrame int) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	limit := min(max(maxFrame, 0), math.MaxInt/2) // no overflow below
	pos := 0
	for pending := 1; pending > 0; pending-- {
		if (pending-1) > (limit-pos)/minElem || pos+minElem*pending > limit {
			return 0, errTooLarge
		}
		if pos >= len(buf) {
			return 0, nil
		}
		typ := buf[pos]
		line, next, err := respLine(buf, pos+1, limit)
		if err != nil || next == 0 {
			return 0, err
		}
		switch typ {
		case '+', '-':
		case ':':
			if _, err := respInt(line); err != nil {
				return 0, err
			}
		case '$':
			l, err := respInt(line)
			switch {
			case err != nil:
				return 0, err
			case l == -1:
			case l < -1:
				return 0, errBadInt
			case l > int64(limit-next-2):
				return 0, errTooLarge
			default:
				end := next + int(l) + 2
				if len(buf) < end {
					return 0, nil
				}
				if buf[end-2] != '\r' || buf[end-1] != '\n' {
					return 0, errBadBulk
				}
				next = end
			}
		case '*':
			k, err := respInt(line)
			switch {
			case err != nil:
				return 0, err
			case k == -1:
			case k < -1:
				return 0, errBadInt
			case k > int64((limit-next)/minElem):
				return 0, errTooLarge
			default:
				pending += int(k)
			}
		default:
			return 0, errBadType
		}
		pos = next
	}
	return pos, nil
}

// respLine finds the line that starts at buf[start:]; it returns its
// content and the index after its CRLF, or next == 0 when the CRLF has
// not arrived yet. The CRLF must end within max bytes of buf's start.
func respLine(buf []byte, start, max int) (line []byte, next int, err error) {
	end := min(len(buf), max)
	if end < start {
		end = start
	}
	i := bytes.IndexByte(buf[start:end], '\r')
	lineEnd := end
	if i >= 0 {
		lineEnd = start + i
	}
	if bytes.IndexByte(buf[start:lineEnd], '\n') >= 0 {
		return nil, 0, errBadLine
	}
	if i < 0 {
		if end >= max {
			return nil, 0, errTooLarge
		}
		return nil, 0, nil
	}
	r := start + i
	switch {
	case r+1 >= max:
		return nil, 0, errTooLarge
	case r+1 >= len(buf):
		return nil, 0, nil
	case buf[r+1] != '\n':
		return nil, 0, errBadLine
	}
	return buf[start:r], r + 2, nil
}

// respInt parses a RESP integer line: an optional minus sign, then 1 to
// 19 digits, within int64. A digit overflow cannot happen: 19 digits
// stay below 2^64.
func respInt(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, errBadInt
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errBadInt
		}
		v = v*10 + uint64(c-'0')
	}
	switch {
	case neg && v > 1<<63:
		return 0, errBadInt
	case neg:
		return int64(-v), nil // two's complement: -2^63 fits
	case v > 1<<63-1:
		return 0, errBadInt
	}
	return int64(v), nil
}

// RedisError is an error reply ("-ERR ...").
type RedisError string

func (e RedisError) Error() string { return "redis: " + string(e) }

// parseReply turns one complete reply (a frame from RESP) into a Go
// value: string (+), RedisError (-), int64 (:), []byte or nil ($), []any
// or nil (*). It returns the value and the bytes it used.
func parseReply(b []byte) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, errBadType
	}
	i := bytes.Index(b, []byte("\r\n"))
	if i < 1 {
		return nil, 0, errBadLine
	}
	line, next := b[1:i], i+2
	switch b[0] {
	case '+':
		return string(line), next, nil
	case '-':
		return RedisError(line), next, nil
	case ':':
		v, err := strconv.ParseInt(string(line), 10, 64)
		return v, next, err
	case '$':
		l, err := strconv.Atoi(string(line))
		if err != nil || l < 0 {
			return nil, next, err
		}
		if len(b) < next+l+2 {
			return nil, 0, errBadBulk
		}
		return append([]byte(nil), b[next:next+l]...), next + l + 2, nil
	case '*':
		k, err := strconv.Atoi(string(line))
		if err != nil || k < 0 {
			return nil, next, err
		}
		out := make([]any, 0, k)
		for range k {
			v, n, err := parseReply(b[next:])
			if err != nil {
				return nil, 0, err
			}
			out = append(out, v)
			next += n
		}
		return out, next, nil
	}
	return nil, 0, errBadType
}

// appendCommand appends a command as a RESP array of bulk strings.
func appendCommand(dst []byte, args ...string) []byte {
	dst = fmt.Appendf(dst, "*%d\r\n", len(args))
	for _, a := range args {
		dst = fmt.Appendf(dst, "$%d\r\n%s\r\n", len(a), a)
	}
	return dst
}
