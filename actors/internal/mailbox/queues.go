package mailbox

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Queues are a protoactor mailbox's two queues under one lock: system
// messages go ahead of user ones, and user messages wait while the
// mailbox is suspended (protoactor's SuspendMailbox, sent while a failed
// actor's supervisor decides). Mu guards both; a mailbox that keeps more
// state under the same lock (its suspension first) takes Mu itself.
type Queues struct {
	Mu        sync.Mutex
	User, Sys Queue
}

// Pop takes the next message that may run: a system one first, a user one
// unless suspended (Mu held).
func (q *Queues) Pop(suspended bool) (msg any, system bool) {
	if msg = q.Sys.Pop(); msg != nil {
		return msg, true
	}
	if suspended {
		return nil, false
	}
	return q.User.Pop(), false
}

// Runnable reports whether a message that may run is queued (Mu held).
func (q *Queues) Runnable(suspended bool) bool {
	return q.Sys.Len() > 0 || (!suspended && q.User.Len() > 0)
}

// UserMessageCount is the number of user messages queued.
func (q *Queues) UserMessageCount() int {
	q.Mu.Lock()
	defer q.Mu.Unlock()
	return q.User.Len()
}

// Suspension reports whether msg is protoactor's SuspendMailbox or
// ResumeMailbox (ok), and which (suspend).
func Suspension(msg any) (suspend, ok bool) {
	switch msg.(type) {
	case *actor.SuspendMailbox:
		return true, true
	case *actor.ResumeMailbox:
		return false, true
	}
	return false, false
}
