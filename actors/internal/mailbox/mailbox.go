package mailbox

import (
	"runtime"

	"github.com/asynkron/protoactor-go/actor"
)

// Hooks adapt a Mailbox to its actor. Either may be nil.
type Hooks struct {
	// Posted runs in the poster's goroutine once msg is queued and the
	// mailbox scheduled.
	Posted func(msg any, system bool)
	// Take sees each user message before the actor would, in the
	// mailbox's turn; if it returns true it has disposed of the message,
	// which the actor never sees.
	Take func(msg any) bool
}

// Mailbox does what protoactor's default mailbox does (system messages
// first, suspend and resume, one goroutine at a time, a panic escalated
// to the actor's supervisor, the processor yielded every Throughput
// messages) without allocating per message, as the default one does (a
// queue node for every system message, a closure for every run it
// schedules), plus its Hooks.
type Mailbox struct {
	Queues
	running   bool // a goroutine runs the mailbox, or is about to (Mu)
	suspended bool // (Mu)
	hooks     Hooks

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	runFn      func() // m.run, bound once
}

var _ actor.Mailbox = (*Mailbox)(nil)

// New returns a mailbox with hooks h.
func New(h Hooks) *Mailbox { return &Mailbox{hooks: h} }

// PostUserMessage queues msg and runs the mailbox if it is idle.
func (m *Mailbox) PostUserMessage(msg any) { m.post(msg, false) }

// PostSystemMessage queues msg ahead of the user messages and runs the
// mailbox if it is idle.
func (m *Mailbox) PostSystemMessage(msg any) { m.post(msg, true) }

func (m *Mailbox) post(msg any, system bool) {
	m.Mu.Lock()
	if system {
		m.Sys.Push(msg)
	} else {
		m.User.Push(msg)
	}
	idle := !m.running
	m.running = true
	m.Mu.Unlock()
	if idle {
		m.dispatcher.Schedule(m.runFn)
	}
	if m.hooks.Posted != nil {
		m.hooks.Posted(msg, system)
	}
}

// RegisterHandlers is called once, as the actor is spawned.
func (m *Mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
	m.runFn = m.run
}

// Start does nothing: the mailbox needs no start.
func (m *Mailbox) Start() {}

// run handles what is queued until nothing that may run is left.
func (m *Mailbox) run() {
	for m.drain() {
	}
}

// drain handles queued messages one at a time until none may run (it
// returns false: the mailbox is idle) or one panics (it returns true once
// the panic is escalated: the caller drains on).
func (m *Mailbox) drain() (again bool) {
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
			if s, ok := Suspension(msg); ok {
				m.Mu.Lock()
				m.suspended = s
				m.Mu.Unlock()
			} else {
				m.invoker.InvokeSystemMessage(msg)
			}
		case m.hooks.Take == nil || !m.hooks.Take(msg):
			m.invoker.InvokeUserMessage(msg)
		}
	}
}

// next pops the next message that may run; with none it marks the
// mailbox idle.
func (m *Mailbox) next() (msg any, system bool) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	if msg, system = m.Pop(m.suspended); msg == nil {
		m.running = false
	}
	return msg, system
}
