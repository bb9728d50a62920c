package main

import (
	"bytes"
	"math"
	"slices"
	"strconv"

	"github.com/etcp-go/etcp/transport"
)

// Requests: RESP2 arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
// or inline commands, one line of space-separated words ("GET k\r\n") with
// Redis's quoting rules ("..." with escapes, '...').
//
// scanCommand is the one parser. The framer runs it to find where a
// command ends, without collecting anything, and the handler runs it
// again on the frame to collect the arguments. Malformed input and
// limits are found as early as the bytes allow: a bulk string's "$N"
// header longer than -max-bulk is refused before any of its N bytes is
// buffered. A malformed command becomes a frame too, cut just after the
// bytes that show what is wrong, so that the handler finds the same
// error, replies "-ERR Protocol error: ..." and closes, after answering
// the commands before it in order (as Redis does).

// Fixed limits, as Redis's.
const (
	// lineMax is the longest inline command, and the longest "*N" or "$N"
	// line waited for (Redis's PROTO_INLINE_MAX_SIZE).
	lineMax = 64 << 10
	// maxArgs is the most arguments one command may have (Redis 6's
	// limit; Redis 7 allows up to 2^31-1 once authenticated).
	maxArgs = 1024 * 1024
)

// limits are the configurable ones.
type limits struct {
	maxBulk  int // largest bulk string (-max-bulk)
	maxQuery int // largest command, in bytes (-max-query)
}

// protoError is a malformed request: a code and, for "expected '$'", the
// byte found instead. It is a plain value, so finding one allocates
// nothing.
type protoError struct {
	code protoCode
	got  byte
}

type protoCode uint8

const (
	protoOK protoCode = iota
	protoInlineTooBig
	protoUnbalanced
	protoMbulkLineTooBig
	protoBadMbulkLen
	protoBulkLineTooBig
	protoExpectedDollar
	protoBadBulkLen
	protoNoLF
	protoBadBulkEnd
	protoTooBig
)

// message is the error reply's text, Redis's where Redis has one.
func (e protoError) message() string {
	switch e.code {
	case protoInlineTooBig:
		return "ERR Protocol error: too big inline request"
	case protoUnbalanced:
		return "ERR Protocol error: unbalanced quotes in request"
	case protoMbulkLineTooBig:
		return "ERR Protocol error: too big mbulk count string"
	case protoBadMbulkLen:
		return "ERR Protocol error: invalid multibulk length"
	case protoBulkLineTooBig:
		return "ERR Protocol error: too big bulk count string"
	case protoExpectedDollar:
		return "ERR Protocol error: expected '$', got '" + string(sanitize(e.got)) + "'"
	case protoBadBulkLen:
		return "ERR Protocol error: invalid bulk length"
	case protoNoLF:
		return "ERR Protocol error: CR not followed by LF"
	case protoBadBulkEnd:
		return "ERR Protocol error: bulk string not followed by CRLF"
	case protoTooBig:
		return "ERR Protocol error: request larger than the server's limit"
	}
	return "ERR Protocol error"
}

// sanitize keeps an error reply on one line.
func sanitize(c byte) byte {
	if c == '\r' || c == '\n' {
		return ' '
	}
	return c
}

// collector receives a command's arguments. A nil collector only scans.
type collector struct {
	args   [][]byte
	inline []byte // inline arguments, unquoted
}

// scanCommand parses the command at the start of buf. It returns n > 0,
// the command's length, with its arguments in c (none for an empty
// line or "*0"); or n == 0 when the command is not complete yet; or a
// protoError and n > 0 such that buf[:n] gives the same error.
func scanCommand(buf []byte, lim limits, c *collector) (int, protoError) {
	n, perr, _ := scanCommandFrom(buf, lim, c, transport.ScanState{})
	return n, perr
}

// scanCommandFrom is scanCommand resumed from s, the state it returned
// for a prefix of buf (the zero value: from the start), without a
// collector unless s is zero. When the command is not complete it also
// returns where to resume. In an array, Pos is the index of the next
// argument's "$" and N how many arguments before it were found complete
// (the "*N" line is parsed again, a few bytes; an argument's own "$N"
// line too until its bytes are all there); in an inline command, Pos is
// how many bytes were searched for the LF.
func scanCommandFrom(buf []byte, lim limits, c *collector, s transport.ScanState) (int, protoError, transport.ScanState) {
	if len(buf) == 0 {
		return 0, protoError{}, transport.ScanState{}
	}
	if buf[0] != '*' {
		return scanInline(buf, c, int(s.Pos))
	}
	count, pos, perr := scanNumber(buf, 0, protoMbulkLineTooBig)
	switch {
	case perr.code != protoOK || pos == 0:
		return pos, perr, transport.ScanState{}
	case count == bad || count > maxArgs:
		return pos, protoError{code: protoBadMbulkLen}, transport.ScanState{}
	}
	done := 0
	if s.Pos != 0 && int(s.Pos) >= pos && int(s.Pos) <= len(buf) && int64(s.N) <= count {
		pos, done = int(s.Pos), int(s.N)
	}
	for i := done; i < int(count); i++ {
		if pos >= len(buf) {
			return 0, protoError{}, resumeAt(pos, i)
		}
		if buf[pos] != '$' {
			return pos + 1, protoError{code: protoExpectedDollar, got: buf[pos]}, transport.ScanState{}
		}
		size, next, perr := scanNumber(buf, pos, protoBulkLineTooBig)
		switch {
		case perr.code != protoOK:
			return next, perr, transport.ScanState{}
		case next == 0:
			return 0, protoError{}, resumeAt(pos, i)
		case size < 0 || size > int64(lim.maxBulk):
			return next, protoError{code: protoBadBulkLen}, transport.ScanState{}
		case size > int64(lim.maxQuery-next-2):
			return next, protoError{code: protoTooBig}, transport.ScanState{}
		}
		end := next + int(size) + 2
		if end > len(buf) {
			return 0, protoError{}, resumeAt(pos, i)
		}
		if buf[end-2] != '\r' || buf[end-1] != '\n' {
			return end, protoError{code: protoBadBulkEnd}, transport.ScanState{}
		}
		if c != nil {
			c.args = append(c.args, buf[next:end-2:end-2])
		}
		pos = end
	}
	return pos, protoError{}, transport.ScanState{}
}

// resumeAt is the state that resumes an array at the argument starting at
// pos, done arguments being complete; past 4 GiB it is the zero value,
// which starts over.
func resumeAt(pos, done int) transport.ScanState {
	if uint64(pos) > math.MaxUint32 {
		return transport.ScanState{}
	}
	return transport.ScanState{Pos: uint32(pos), N: uint32(done)}
}

// shortLine is longer than any valid "*N" or "$N" line.
const shortLine = 24

// bad is what scanNumber returns for a line that is not a number.
const bad = -1 << 63

// scanNumber reads the "*N" or "$N" line at buf[pos:] and returns N
// (bad if it is not a number as Redis writes them) and the index after
// the line's CRLF, or 0 when the line is not complete. tooBig is the
// error for a line longer than lineMax.
func scanNumber(buf []byte, pos int, tooBig protoCode) (int64, int, protoError) {
	// The common case in one pass: up to 18 digits (no overflow), no
	// leading zero, then CRLF, all there.
	i := pos + 1
	neg := i < len(buf) && buf[i] == '-'
	if neg {
		i++
	}
	digits := i
	var v int64
	for i < len(buf) && i-digits < 18 && buf[i] >= '0' && buf[i] <= '9' {
		v = v*10 + int64(buf[i]-'0')
		i++
	}
	if n := i - digits; n > 0 && i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' &&
		(buf[digits] != '0' || (n == 1 && !neg)) {
		if neg {
			v = -v
		}
		return v, i + 2, protoError{}
	}
	return scanNumberSlow(buf, pos, tooBig)
}

// scanNumberSlow is scanNumber for every case.
func scanNumberSlow(buf []byte, pos int, tooBig protoCode) (int64, int, protoError) {
	// A number's line is short: look at its first bytes by hand, and call
	// IndexByte for the rest of the window only when it is not.
	start := pos + 1
	end := min(len(buf), start+lineMax)
	cr := -1
	for i := start; i < min(end, start+shortLine); i++ {
		if buf[i] == '\r' {
			cr = i
			break
		}
	}
	if cr < 0 && end > start+shortLine {
		if i := bytes.IndexByte(buf[start+shortLine:end], '\r'); i >= 0 {
			cr = start + shortLine + i
		}
	}
	switch {
	case cr < 0 && len(buf)-pos > lineMax:
		return 0, pos + 1 + lineMax, protoError{code: tooBig}
	case cr < 0:
		return 0, 0, protoError{}
	}
	switch {
	case cr+1 >= len(buf):
		return 0, 0, protoError{}
	case buf[cr+1] != '\n':
		return 0, cr + 2, protoError{code: protoNoLF}
	}
	v, ok := parseInt(buf[pos+1 : cr])
	if !ok {
		v = bad
	}
	return v, cr + 2, protoError{}
}

// parseInt parses a decimal int64 as Redis's string2ll does: an optional
// minus sign, no plus sign, no spaces, no leading zeros ("0" itself
// aside, and "-0" is refused), within the range of int64.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		v = v*10 + uint64(d-'0') // 19 digits stay below 2^64
	}
	switch {
	case neg && v > 1<<63:
		return 0, false
	case neg:
		return int64(-v), true // -2^63 wraps to itself
	case v > 1<<63-1:
		return 0, false
	}
	return int64(v), true
}

// scanInline parses an inline command: a line ended by LF (a CR before it
// is dropped), split into words as Redis's sdssplitargs does. The first
// from bytes are known to hold no LF. When the line is not complete, it
// returns how many bytes were searched.
func scanInline(buf []byte, c *collector, from int) (int, protoError, transport.ScanState) {
	window := buf[:min(len(buf), lineMax+1)]
	if from > len(window) {
		from = 0 // not a state of this buffer: start over
	}
	nl := bytes.IndexByte(window[from:], '\n')
	switch {
	case nl < 0 && len(buf) > lineMax:
		return lineMax + 1, protoError{code: protoInlineTooBig}, transport.ScanState{}
	case nl < 0:
		return 0, protoError{}, transport.ScanState{Pos: uint32(len(window))} // at most lineMax
	}
	nl += from
	line := buf[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if !splitArgs(line, c) {
		return nl + 1, protoError{code: protoUnbalanced}, transport.ScanState{}
	}
	return nl + 1, protoError{}, transport.ScanState{}
}

// splitArgs splits an inline line into words and reports false on
// unbalanced quotes. Words are separated by spaces, tabs, CR and LF; in
// "double quotes" \n \r \t \b \a and \xHH are escapes and \c is c; in
// 'single quotes' only \' is; a closing quote must end the word. A NUL
// byte ends the line, as the C string Redis parses. With a collector the
// words go to c.args, unquoted into c.inline.
func splitArgs(line []byte, c *collector) bool {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	if c != nil {
		// Unquoting only shrinks, so this never grows and the words
		// stay valid.
		c.inline = slices.Grow(c.inline[:0], len(line))
	}
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return true
		}
		start := len(c.words())
		var inDouble, inSingle bool
	word:
		for ; ; i++ {
			switch {
			case inDouble:
				if i == len(line) {
					return false
				}
				switch ch := line[i]; {
				case ch == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					c.add(unhex(line[i+2])<<4 | unhex(line[i+3]))
					i += 3
				case ch == '\\' && i+1 < len(line):
					i++
					c.add(unescape(line[i]))
				case ch == '"':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return false
					}
					i++
					break word
				default:
					c.add(ch)
				}
			case inSingle:
				if i == len(line) {
					return false
				}
				switch ch := line[i]; {
				case ch == '\\' && i+1 < len(line) && line[i+1] == '\'':
					i++
					c.add('\'')
				case ch == '\'':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return false
					}
					i++
					break word
				default:
					c.add(ch)
				}
			case i == len(line):
				break word
			default:
				switch ch := line[i]; ch {
				case ' ', '\n', '\r', '\t':
					break word
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					c.add(ch)
				}
			}
		}
		if c != nil {
			end := len(c.inline)
			c.args = append(c.args, c.inline[start:end:end])
		}
	}
}

// words is what the collector has unquoted so far (nil without one).
func (c *collector) words() []byte {
	if c == nil {
		return nil
	}
	return c.inline
}

func (c *collector) add(b byte) {
	if c != nil {
		c.inline = append(c.inline, b)
	}
}

// isSpace is C's isspace.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

func unhex(b byte) byte {
	switch {
	case b >= 'a':
		return b - 'a' + 10
	case b >= 'A':
		return b - 'A' + 10
	}
	return b - '0'
}

func unescape(b byte) byte {
	switch b {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return b
}

// requestFramer frames requests for the library: each frame is one
// command as scanCommand finds it, or a malformed command cut where it
// goes wrong (the handler answers it with the error and closes). The
// library's maximum frame size (-max-query) is the largest command.
// Encode sends replies as they are: the handler writes RESP itself.
//
// It is a transport.Resumer: the connection keeps where the scan of an
// incomplete command stopped, and the arguments already found complete
// are not scanned again when more bytes arrive.
type requestFramer struct{ maxBulk int }

func (requestFramer) Name() string { return "resp-request" }

func (f requestFramer) Decode(buf []byte, max int) ([]byte, int, error) {
	frame, n, _, err := f.DecodeFrom(buf, max, transport.ScanState{})
	return frame, n, err
}

func (f requestFramer) DecodeFrom(buf []byte, max int, s transport.ScanState) ([]byte, int, transport.ScanState, error) {
	n, _, next := scanCommandFrom(buf, limits{maxBulk: f.maxBulk, maxQuery: max}, nil, s)
	if n == 0 {
		return nil, 0, next, nil
	}
	return buf[:n:n], n, transport.ScanState{}, nil
}

func (requestFramer) Encode(dst, p []byte) ([]byte, error) { return append(dst, p...), nil }

var _ transport.Resumer = requestFramer{}

// Replies.

func appendSimple(b []byte, s string) []byte {
	b = append(b, '+')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// appendError appends an error reply; msg starts with its code ("ERR ...")
// and is kept on one line.
func appendError(b []byte, msg string) []byte {
	b = append(b, '-')
	for i := range len(msg) {
		b = append(b, sanitize(msg[i]))
	}
	return append(b, '\r', '\n')
}

func appendInt(b []byte, v int64) []byte {
	b = append(b, ':')
	b = appendInt64(b, v)
	return append(b, '\r', '\n')
}

func appendInt64(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

func appendBulk(b, v []byte) []byte {
	b = append(b, '$')
	b = appendInt64(b, int64(len(v)))
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendBulkString(b []byte, v string) []byte {
	b = append(b, '$')
	b = appendInt64(b, int64(len(v)))
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendNull(b []byte) []byte { return append(b, "$-1\r\n"...) }

func appendArray(b []byte, n int) []byte {
	b = append(b, '*')
	b = appendInt64(b, int64(n))
	return append(b, '\r', '\n')
}
