package behaviours

import "github.com/etcp-go/etcp/behaviours/internal/result"

// CloseWrite shuts down the connection's write side once everything
// asked for so far is written (see [Result.CloseWrite]).
func CloseWrite() Result { return Result{}.CloseWrite() }

// CloseWrite shuts down the connection's write side (a half-close: TCP
// and Unix send a FIN, TLS a close_notify and then a FIN) once every byte
// asked for before it, in this Result and earlier ones, is written. The
// connection reads on, and the peer sees the end of its stream. Nothing
// may be sent after it: a packet or a Send to the connection then ends
// it with an error wrapping actors.ErrWriteClosed. Once the peer has shut
// down its own side too (HandleDisconnect ran), the connection ends,
// Terminate seeing a nil reason.
func (r Result) CloseWrite() Result {
	r.Flags |= result.FlagCloseWrite
	return r
}
