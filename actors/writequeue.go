package actors

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
)

// The write queue: every byte sent to a connection and not yet taken by
// its socket, whatever its source (a handler's Result, a local or remote
// SendSync or SendAsync, a pool's send), with Netty's watermarks. A Send
// is counted where it is posted (the process, admit), a handler's packets
// once the turn that made them could not write them whole (flush), and
// every byte leaves the count when the socket takes it (the actor's
// write, or the flusher's):
//
//	writable -> over    bytes queued pass High (whoever added them)
//	over     -> writable bytes queued fall to Low (whoever wrote them)
//
// Each change posts a writeNotice, which overtakes the queued sends: the
// handler hears behaviours.Writability within one mailbox turn, even while
// the socket is stalled (a crossing undone before the actor could tell
// the handler is not reported). Over the high mark, Conn.Writable reports
// false, the connection stops reading its socket (back-pressure, unless
// the handler turned it off), and SendSync waits for the queue to drain
// (or fails with ErrWriteBlocked, WriteQueue.FailFast). A send that would
// pass Max is refused with ErrOverflow and ends the connection: memory on
// the write side is bounded whatever the senders do.

// WriteQueue bounds what is sent to one connection and not yet written.
type WriteQueue struct {
	// Low and High are the watermarks: past High the connection is over
	// its high mark until the queue drains to Low. Defaults 32 KiB and
	// 64 KiB, as Netty.
	Low, High int
	// Max is the hard cap: a send that would take the queue past it is
	// refused and the connection ends with ErrOverflow. A send to an empty
	// queue is always taken, whatever its size: the cap bounds what piles
	// up behind a slow peer, not one packet. Default 4 MiB.
	Max int
	// FailFast makes SendSync fail with ErrWriteBlocked over the high mark
	// instead of waiting for the queue to drain.
	FailFast bool
	// NoBackPressure keeps connections reading their sockets over the
	// high mark. By default a connection stops reading while its queue is
	// over High and reads again at Low, so that a peer that sends faster
	// than it reads the replies is slowed by TCP itself, as Erlang's
	// gen_tcp does: a handler that only answers what it reads (an echo, a
	// Redis server) then serves a slow reader any volume in bounded memory.
	// A handler that watches Writability itself can turn it off
	// (connection by connection: behaviours.Conn.SetBackPressure).
	NoBackPressure bool
}

// DefaultWriteQueue are the defaults of [WriteQueue].
var DefaultWriteQueue = WriteQueue{Low: 32 << 10, High: 64 << 10, Max: 4 << 20}

func (q *WriteQueue) validate() error {
	if q.Low == 0 {
		q.Low = DefaultWriteQueue.Low
	}
	if q.High == 0 {
		q.High = max(DefaultWriteQueue.High, q.Low)
	}
	if q.Max == 0 {
		q.Max = max(DefaultWriteQueue.Max, q.High)
	}
	if q.Low < 0 || q.Low > q.High || q.High > q.Max {
		return fmt.Errorf("%w: WriteQueue needs 0 <= Low <= High <= Max (got %d, %d, %d)",
			ErrInvalidOptions, q.Low, q.High, q.Max)
	}
	return nil
}

// writeQueue is a connection's count of queued bytes; made by the first
// send, kept in the process (it outlives passivation).
type writeQueue struct {
	bytes atomic.Int64
	over  atomic.Bool // the write side's watermark state: over the high mark

	mu      sync.Mutex
	drained chan struct{} // closed when the queue falls to Low; made by a waiter
	ended   bool          // the connection ended: waiters give up
}

// writeQueue returns the connection's count, made on first use.
func (p *process) writeQueue() *writeQueue {
	if wq := p.wq.Load(); wq != nil {
		return wq
	}
	wq := &writeQueue{}
	if !p.wq.CompareAndSwap(nil, wq) {
		wq = p.wq.Load()
	}
	return wq
}

// queueSend counts a Send being posted, reporting false (with nothing
// counted) past the hard cap.
func (p *process) queueSend(n int, q *WriteQueue) bool {
	wq := p.writeQueue()
	total := wq.bytes.Add(int64(n))
	if total > int64(q.Max) && total > int64(n) { // an empty queue takes any one send
		wq.bytes.Add(-int64(n))
		return false
	}
	p.crossed(wq, total, n)
	return true
}

// addQueued adds delta bytes to the count (negative: taken by the socket).
func (p *process) addQueued(delta int) {
	if delta == 0 {
		return
	}
	wq := p.writeQueue()
	p.crossed(wq, wq.bytes.Add(int64(delta)), delta)
}

// crossed moves the watermark state after the count changed by delta to
// total, and tells the actor if it moved.
func (p *process) crossed(wq *writeQueue, total int64, delta int) {
	q := &p.g.writeQueue
	switch {
	case delta > 0 && total > int64(q.High):
		if wq.over.CompareAndSwap(false, true) {
			p.post(writeNoticeMsg, true)
		}
	case delta < 0 && total <= int64(q.Low):
		if wq.over.CompareAndSwap(true, false) {
			wq.release(false)
			p.post(writeNoticeMsg, true)
		}
	}
}

// release wakes the SendSync calls waiting for the queue to drain; with
// ended, for good.
func (wq *writeQueue) release(ended bool) {
	wq.mu.Lock()
	if ended {
		wq.ended = true
	}
	if wq.drained != nil {
		close(wq.drained)
		wq.drained = nil
	}
	wq.mu.Unlock()
}

// awaitWritable waits while the connection is over its high mark.
func (p *process) awaitWritable(ctx context.Context, q *WriteQueue) error {
	wq := p.wq.Load()
	for wq != nil && wq.over.Load() {
		if q.FailFast {
			return ErrWriteBlocked
		}
		wq.mu.Lock()
		if wq.ended {
			wq.mu.Unlock()
			return nil // the send gets ErrClosed
		}
		if wq.drained == nil {
			wq.drained = make(chan struct{})
		}
		ch := wq.drained
		wq.mu.Unlock()
		if !wq.over.Load() { // drained meanwhile
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w (waiting for the write queue to drain)", ctx.Err())
		}
	}
	return nil
}

// onWriteNotice tells the handler what changed on the write side: the
// flusher failed (the connection ends), or the queue crossed a watermark
// since it last heard (actor).
func (c *conn) onWriteNotice() {
	if c.writeState() == wsFailed {
		c.terminate(c.ob.err)
		return
	}
	if c.ob != nil && c.ob.closeWrite && !c.shutWhenWritten() { // halfclose.go
		return
	}
	wq := c.proc.wq.Load()
	if wq == nil {
		return
	}
	if over := wq.over.Load(); over != c.toldOver {
		c.toldOver = over
		c.run(cbInfo, behaviours.Writability{Writable: !over, Queued: int(wq.bytes.Load())}, nil)
	}
}

// paused reports whether the connection stops reading its socket: its
// write queue is over the high mark and back-pressure is on (actor).
func (c *conn) paused() bool { return !c.noBackPressure && !c.Writable() }

// SetBackPressure turns back-pressure on or off for this connection.
func (c *conn) SetBackPressure(on bool) { c.noBackPressure = !on }

// Writable reports whether the connection is below its high watermark.
func (c *conn) Writable() bool {
	wq := c.proc.wq.Load()
	return wq == nil || !wq.over.Load()
}

// sendSync writes p on the connection pid and returns once its socket
// has taken it (or the write failed). While the connection is over its high
// watermark it first waits for its queue to drain (or fails with
// ErrWriteBlocked, WriteQueue.FailFast); waiting, like the request, ends
// with ctx. A PID with no live connection gives an error wrapping
// ErrClosed (host.SendSync).
func sendSync(ctx context.Context, s actor.SenderContext, pid *actor.PID, p []byte) error {
	if proc := localConn(s.ActorSystem(), pid); proc != nil {
		if g := proc.group(); g != nil {
			if err := proc.awaitWritable(ctx, &g.writeQueue); err != nil {
				return fmt.Errorf("etcp: send to %s: %w", pid.Id, err)
			}
		}
	}
	_, err := Request(ctx, s, pid, &Send{Data: p})
	return err
}

// localConn returns the process of a connection of this process, if pid
// is one.
func localConn(sys *actor.ActorSystem, pid *actor.PID) *process {
	if pid == nil || sys == nil {
		return nil
	}
	proc, ok := sys.ProcessRegistry.GetLocal(pid.Id)
	if !ok {
		return nil
	}
	p, _ := proc.(*process)
	return p
}

// overflow is posted (as a system message, so it overtakes the queued
// sends) when a send or a message is refused past a cap; it carries the
// reason the connection ends with.
type overflow struct{ err error }
