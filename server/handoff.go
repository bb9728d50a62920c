package server

import (
	"sync"

	"github.com/etcp-go/etcp/transport"
)

// handoff is an accepted socket on its way to a connection supervisor.
// Hand-offs are recycled (newHandoff, recycle): the supervisor's mailbox
// holds one only until the supervisor takes the socket.
type handoff struct {
	sock transport.Conn
	id   uint64
}

var handoffs = sync.Pool{New: func() any { return new(handoff) }}

func newHandoff(sock transport.Conn, id uint64) *handoff {
	h := handoffs.Get().(*handoff)
	h.sock, h.id = sock, id
	return h
}

// recycle gives h back once its socket was taken. A hand-off that went
// to dead letters is not recycled: the dead-letter event keeps it.
func (h *handoff) recycle() {
	*h = handoff{}
	handoffs.Put(h)
}
