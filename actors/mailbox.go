package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	inbox "github.com/etcp-go/etcp/actors/internal/mailbox"
)

// mailbox is a connection actor's protoactor mailbox. It behaves like
// protoactor's default one (system messages first, suspend/resume, one
// goroutine at most) with one addition: postInline, used by the
// connection's own socket reader, runs the actor in the reader's goroutine
// when the actor is idle. A packet therefore reaches its callback with no
// goroutine hop, while messages from anyone else are scheduled as usual
// and never run handlers on a foreign goroutine.
//
// It lives inside the connection struct, so it costs no allocation of its
// own, and it drops its queue's backing array after a burst.
type mailbox struct {
	inbox.Queues                     // its lock guards the fields marked mu
	running      atomic.Bool         // a goroutine runs (or holds) the mailbox
	status       mbStatus            // mu
	suspended    bool                // protoactor's SuspendMailbox; mu
	closedTo     actor.SenderContext // answers user messages once closed; mu

	conn       *conn // reads go to it directly (see drain)
	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	runFn      func() // m.runScheduled, bound once so scheduling does not allocate
	// A turn run by a dispatcher goroutine offers it to the reader: a
	// reader started in that turn runs in this goroutine once the mailbox
	// is idle, instead of in a new one (see runScheduled). Both are the
	// running goroutine's.
	offer, handed bool
}

var _ actor.Mailbox = (*mailbox)(nil)

// mbStatus is what a mailbox does with what is posted to it.
//
//	open    -> retired  the actor passivates (retire, with its queues empty)
//	retired -> open     the passivation gave up (unretire)
//	open    -> closed   the actor stopped (closeTo)
//
// A retired mailbox refuses posts (its process posts them to the next
// actor); a closed one answers requests with ErrClosed.
type mbStatus uint8

const (
	mbOpen mbStatus = iota
	mbRetired
	mbClosed
)

// PostUserMessage queues msg. The connection's own timers post here;
// what reaches a passivated connection's old mailbox this way is dropped
// (no timer fires while a connection hibernates). Everyone else posts
// through the connection's process (passivate.go).
func (m *mailbox) PostUserMessage(msg any) { m.post(msg, false) }

func (m *mailbox) PostSystemMessage(msg any) { m.post(msg, true) }

// post queues a message and schedules the mailbox; it reports false,
// queueing nothing, once the mailbox is retired.
func (m *mailbox) post(msg any, system bool) bool {
	open, _ := m.postLimit(msg, system, 0)
	return open
}

// postLimit is post, refusing a user message (full) when limit (if not
// 0) user messages are queued already.
func (m *mailbox) postLimit(msg any, system bool, limit int) (open, full bool) {
	queued, retired, full := m.enqueue(msg, system, limit)
	if queued && m.running.CompareAndSwap(false, true) {
		m.dispatcher.Schedule(m.runFn)
	}
	return !retired, full
}

// enqueue queues msg, reporting whether it did. A retired mailbox refuses
// it, and so does a full one (see postLimit); a user message reaching a
// closed one is answered instead.
func (m *mailbox) enqueue(msg any, system bool, limit int) (queued, retired, full bool) {
	m.Mu.Lock()
	switch {
	case m.status == mbRetired:
		m.Mu.Unlock()
		return false, true, false
	case m.status == mbClosed && !system:
		s := m.closedTo
		m.Mu.Unlock()
		rejectClosed(s, msg)
		return false, false, false
	case limit > 0 && !system && m.User.Len() >= limit:
		m.Mu.Unlock()
		return false, false, true
	}
	if system {
		m.Sys.Push(msg)
	} else {
		m.User.Push(msg)
	}
	m.Mu.Unlock()
	return true, false, false
}

// hold keeps the mailbox from running while its actor is being spawned;
// release lets it run what was posted meanwhile.
func (m *mailbox) hold() { m.running.Store(true) }

func (m *mailbox) release() {
	if m.idle() {
		m.dispatcher.Schedule(m.runFn)
	}
}

// retire refuses posts from now on if nothing is queued, reporting
// whether it did (mailbox owner only, with the process locked).
func (m *mailbox) retire() bool {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	if m.Sys.Len() > 0 || m.User.Len() > 0 || m.status != mbOpen {
		return false
	}
	m.status = mbRetired
	return true
}

// unretire takes back a retire whose passivation failed.
func (m *mailbox) unretire() {
	m.Mu.Lock()
	if m.status == mbRetired {
		m.status = mbOpen
	}
	m.Mu.Unlock()
}

// closeTo runs once the actor has stopped. protoactor drops, unanswered,
// the user messages that reach a stopped actor: requests still queued
// behind the stop, or posted by a sender that looked the PID up just
// before it died, would wait out their timeout. They are answered with
// ErrClosed through s instead, now and from now on.
func (m *mailbox) closeTo(s actor.SenderContext) {
	m.Mu.Lock()
	m.status, m.closedTo = mbClosed, s
	var left []any
	for msg := m.User.Pop(); msg != nil; msg = m.User.Pop() {
		left = append(left, msg)
	}
	m.Mu.Unlock()
	for _, msg := range left {
		rejectClosed(s, msg)
	}
}

// rejectClosed answers a request that reached a stopped connection.
func rejectClosed(s actor.SenderContext, msg any) {
	if env, ok := msg.(*actor.MessageEnvelope); ok && env.Sender != nil {
		s.Send(env.Sender, &Reply{Err: errConnClosed})
	}
}

// postInline posts a read and, if the actor was idle, runs it (and
// anything queued behind it) in the calling goroutine before returning.
// An idle, empty mailbox hands the read straight to the connection.
// onLoop says the caller is the shared poller's goroutine (the event
// loop): the turns it runs then know to hand the poller off before they
// block (conn.mayBlock).
func (m *mailbox) postInline(ev *readEvent, onLoop bool) {
	if m.running.CompareAndSwap(false, true) {
		m.conn.onLoop = onLoop
		m.Mu.Lock()
		direct := m.User.Len() == 0 && m.Sys.Len() == 0 && !m.suspended
		if !direct {
			m.User.Push(ev)
		}
		m.Mu.Unlock()
		if direct {
			m.handleRead(ev)
		}
		m.run()
		return
	}
	m.Mu.Lock()
	m.User.Push(ev)
	m.Mu.Unlock()
	if m.running.CompareAndSwap(false, true) {
		m.conn.onLoop = onLoop
		m.run()
	}
}

// postNudge posts a nudge from the connection's reader and, if the actor
// is idle, runs it right here, as postInline does for reads. It reports
// false if the mailbox is retired (a passivation is under way or done).
func (m *mailbox) postNudge() bool {
	queued, retired, _ := m.enqueue(passivateNudge, false, 0)
	if queued && m.running.CompareAndSwap(false, true) {
		m.run()
	}
	return !retired
}

// handleRead runs one read outside the queue, failing like drain does.
func (m *mailbox) handleRead(ev *readEvent) {
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, ev)
		}
	}()
	m.conn.receiveRead(ev)
}

func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
	m.runFn = m.runScheduled
}

func (m *mailbox) Start() {}

// run drains the mailbox, then goes idle; it loops again if a message
// slipped in between the last pop and going idle. A hibernating
// connection passivates here, when its mailbox is empty: the mailbox
// then stays "running" for good, so nothing schedules it again.
// It reports whether a reader took this goroutine's offer.
func (m *mailbox) run() (reader bool) {
	for {
		m.drain()
		reader = reader || m.handed
		m.offer, m.handed = false, false // the offer ends with the first drain
		if m.conn.hibernated {
			onLoop := m.conn.onLoop
			m.conn.onLoop = false // a passivated connection's actor is gone
			if m.conn.passivate() {
				return reader
			}
			m.conn.onLoop = onLoop
		}
		if !m.idle() {
			return reader
		}
	}
}

// runScheduled is run on a goroutine of the dispatcher's own. If the turn
// starts the connection's reader, the goroutine becomes that reader once
// the mailbox is idle: a connection's start (Started, Init, first read)
// then costs one goroutine, as a plain net server's, not two.
func (m *mailbox) runScheduled() {
	m.offer = true
	if m.run() {
		m.conn.reader()
	}
}

// idle marks the mailbox idle; if a message slipped in meanwhile it takes
// the mailbox back and reports true: the caller must run it again.
func (m *mailbox) idle() bool {
	onLoop := m.conn.onLoop // the running goroutine's: cleared before another may run
	m.conn.onLoop = false
	m.running.Store(false)
	m.Mu.Lock()
	more := m.Runnable(m.suspended)
	m.Mu.Unlock()
	if more && m.running.CompareAndSwap(false, true) {
		m.conn.onLoop = onLoop
		return true
	}
	return false
}

func (m *mailbox) drain() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	for {
		var system bool
		msg, system = m.pop()
		if msg == nil {
			return
		}
		if !system {
			// A socket read is handled in this turn of the mailbox like any
			// message, but without protoactor's per-message bookkeeping
			// (envelopes, middleware, metrics, receive timeout): none
			// applies to it, and skipping it keeps the reader's stack small.
			if ev, ok := msg.(*readEvent); ok {
				m.conn.receiveRead(ev)
			} else {
				m.invoker.InvokeUserMessage(msg)
			}
			continue
		}
		switch sm := msg.(type) {
		case *writeNotice:
			m.invoker.InvokeUserMessage(msg) // ahead of the queued sends (writequeue.go)
		case *overflow:
			m.conn.onOverflow(sm.err)
		case *actor.Watch:
			m.conn.watched = true
			m.invoker.InvokeSystemMessage(msg)
		default:
			if s, ok := inbox.Suspension(msg); ok {
				m.setSuspended(s)
			} else {
				m.invoker.InvokeSystemMessage(msg)
			}
		}
	}
}

func (m *mailbox) setSuspended(s bool) {
	m.Mu.Lock()
	m.suspended = s
	m.Mu.Unlock()
}

func (m *mailbox) pop() (any, bool) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	return m.Pop(m.suspended)
}
