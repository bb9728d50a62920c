package manage

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// stream is the client's end of a stream (trace events, drain
// progress): a protoactor Process registered under its own PID on the
// client's node, whose messages go to a channel. It holds no goroutine;
// the node's remote reader hands it each message, and it never blocks
// that reader: when the channel is full the message is dropped and
// counted. A message that ends the stream is never dropped: the oldest
// waiting one makes room for it.
type stream struct {
	sys     *actor.ActorSystem
	final   func(any) bool
	pid     *actor.PID
	ch      chan any
	dropped atomic.Uint64

	mu     sync.Mutex
	closed bool
}

var _ actor.Process = (*stream)(nil)

func newStream(sys *actor.ActorSystem, buffer int, final func(any) bool) *stream {
	s := &stream{sys: sys, ch: make(chan any, buffer), final: final}
	s.pid, _ = sys.ProcessRegistry.Add(s, "etcp-manage-stream"+sys.ProcessRegistry.NextId())
	return s
}

func (s *stream) SendUserMessage(_ *actor.PID, msg any) {
	msg = actor.UnwrapEnvelopeMessage(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for {
		select {
		case s.ch <- msg:
			return
		default:
		}
		s.dropped.Add(1)
		if !s.final(msg) {
			return
		}
		select {
		case <-s.ch: // make room for the end
		default:
		}
	}
}

func (*stream) SendSystemMessage(*actor.PID, any) {}
func (*stream) Stop(*actor.PID)                   {}

// close unregisters the stream and closes its channel (once).
func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.sys.ProcessRegistry.Remove(s.pid)
	close(s.ch)
}
