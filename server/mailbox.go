package server

import (
	"runtime"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// connsMailbox is a connection supervisor's mailbox. It does what
// protoactor's default mailbox does (system messages first, suspend and
// resume, one goroutine at a time, a panic escalated to the actor's
// supervisor) without allocating per message, as the default one does
// (a queue node for every system message, a closure for every run it
// schedules): a supervisor hears two messages per connection, its
// hand-off and its Terminated.
//
// It also refuses the sockets that reach a connection supervisor once it
// has stopped: protoactor drops, unseen, what reaches a stopped actor, and
// a socket there would never be closed, nor its slot given back.
type connsMailbox struct {
	c *connsSup

	mu        sync.Mutex
	user, sys msgQueue
	running   bool // a goroutine runs the mailbox, or is about to
	suspended bool // protoactor's SuspendMailbox

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	runFn      func() // m.run, bound once
}

var _ actor.Mailbox = (*connsMailbox)(nil)

// PostUserMessage queues msg and runs the mailbox if it is idle.
func (m *connsMailbox) PostUserMessage(msg any) { m.post(msg, false) }

// PostSystemMessage queues msg ahead of the user messages and runs the
// mailbox if it is idle.
func (m *connsMailbox) PostSystemMessage(msg any) { m.post(msg, true) }

func (m *connsMailbox) post(msg any, system bool) {
	m.mu.Lock()
	if system {
		m.sys.push(msg)
	} else {
		m.user.push(msg)
	}
	idle := !m.running
	m.running = true
	m.mu.Unlock()
	if idle {
		m.dispatcher.Schedule(m.runFn)
	}
}

// RegisterHandlers is called once, as the supervisor is spawned.
func (m *connsMailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
	m.runFn = m.run
}

// Start does nothing: the mailbox needs no start.
func (m *connsMailbox) Start() {}

// UserMessageCount is the number of user messages queued.
func (m *connsMailbox) UserMessageCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.user.len()
}

// run handles what is queued until nothing that may run is left.
func (m *connsMailbox) run() {
	for m.drain() {
	}
}

// drain handles queued messages one at a time until none may run (it
// returns false: the mailbox is idle) or one panics (it returns true once
// the panic is escalated: the caller drains on). Every Throughput
// messages it yields the processor, as protoactor's mailbox does.
func (m *connsMailbox) drain() (again bool) {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
			again = true
		}
	}()
	t := m.dispatcher.Throughput()
	for n := 1; ; n++ {
		if t > 0 && n%t == 0 {
			runtime.Gosched()
		}
		var system bool
		msg, system = m.next()
		switch {
		case msg == nil:
			return false
		case system:
			m.system(msg)
		default:
			if h, ok := msg.(*handoff); ok && m.c.stopped {
				m.c.s.refuse(h.sock)
				h.recycle()
				continue
			}
			m.invoker.InvokeUserMessage(msg)
		}
	}
}

// next pops the next message that may run: a system one first, a user
// one unless suspended. With none it marks the mailbox idle.
func (m *connsMailbox) next() (msg any, system bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if msg = m.sys.pop(); msg != nil {
		return msg, true
	}
	if !m.suspended {
		if msg = m.user.pop(); msg != nil {
			return msg, false
		}
	}
	m.running = false
	return nil, false
}

func (m *connsMailbox) system(msg any) {
	switch msg.(type) {
	case *actor.SuspendMailbox:
		m.setSuspended(true)
	case *actor.ResumeMailbox:
		m.setSuspended(false)
	default:
		m.invoker.InvokeSystemMessage(msg)
	}
}

func (m *connsMailbox) setSuspended(s bool) {
	m.mu.Lock()
	m.suspended = s
	m.mu.Unlock()
}

// msgQueue is a FIFO of messages that reuses its array; one grown by a
// burst is let go once it is empty.
type msgQueue struct {
	items []any
	head  int
}

const keepMsgQueueCap = 64

func (q *msgQueue) push(v any) { q.items = append(q.items, v) }

func (q *msgQueue) len() int { return len(q.items) - q.head }

func (q *msgQueue) pop() any {
	if q.head == len(q.items) {
		return nil
	}
	v := q.items[q.head]
	q.items[q.head] = nil
	if q.head++; q.head == len(q.items) {
		q.head = 0
		if cap(q.items) > keepMsgQueueCap {
			q.items = nil
		} else {
			q.items = q.items[:0]
		}
	}
	return v
}
