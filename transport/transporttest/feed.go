package transporttest

import (
	"bytes"
	"fmt"

	"github.com/etcp-go/etcp/transport"
)

// Fed is what a framer made of a stream given to it by [Feed].
type Fed struct {
	Frames [][]byte // copies of the frames, in order
	Err    error    // the error that ended the stream, if any
	Rest   []byte   // the bytes left undecoded
}

// Feed gives stream to f as a connection does, in chunks of split(n)
// bytes (n is what is left of the stream): each chunk is appended to the
// pending bytes, frames are decoded from them while complete ones are
// there, and what is left moves to the front of the buffer. With resume
// (f must be a [transport.Resumer]) it keeps the ScanState DecodeFrom
// returns for an incomplete frame and passes it back with the next chunk;
// without, it calls Decode, which scans the pending frame from its start
// each time. A framer author checks a Resumer by feeding the same chunks
// both ways and comparing: resuming must change nothing but the work.
// Feed reports a DecodeFrom that returns a state with a frame or an error
// as an error.
func Feed(f transport.Framer, stream []byte, max int, split func(n int) int, resume bool) Fed {
	var res Fed
	var pending []byte
	var s transport.ScanState
	for len(stream) > 0 {
		k := split(len(stream))
		pending, stream = append(pending, stream[:k]...), stream[k:]
		for len(pending) > 0 {
			var frame []byte
			var n int
			if resume {
				var next transport.ScanState
				frame, n, next, res.Err = f.(transport.Resumer).DecodeFrom(pending, max, s)
				if (n > 0 || res.Err != nil) && next != (transport.ScanState{}) {
					res.Err = fmt.Errorf("DecodeFrom returned state %+v with n=%d, err %v", next, n, res.Err)
				}
				s = next
			} else {
				frame, n, res.Err = f.Decode(pending, max)
			}
			if res.Err != nil {
				res.Rest = pending
				return res
			}
			if n == 0 {
				break
			}
			res.Frames = append(res.Frames, bytes.Clone(frame))
			// The rest moves to the front, as the connection's buffer does:
			// the state is relative to the frame's start.
			pending = append(pending[:0], pending[n:]...)
		}
	}
	res.Rest = pending
	return res
}
