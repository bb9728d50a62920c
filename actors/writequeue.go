package actors

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
)

// The write queue: what was sent to a connection (Send messages from
// SendSync, SendAsync and pool sends) and not yet written. Writes are
// made by the actor, in order; while a peer reads slowly they wait in its
// mailbox, so the queue is counted where they are posted (the process)
// and where they are written (the actor), with Netty's watermarks:
//
//	writable -> over    bytes queued pass High (the poster)
//	over     -> writable bytes queued fall to Low (the actor, as it writes)
//
// Over the high mark the handler hears behaviours.Writability false
// (through HandleInfo, ahead of the sends queued), and true once the queue
// drains to Low (a crossing drained before the actor could tell the
// handler is not reported); Conn.Writable reports false meanwhile, and
// SendSync waits for the queue to drain (or fails with ErrWriteBlocked,
// WriteQueue.FailFast).
// A send that would pass Max is refused with ErrOverflow and ends the
// connection: memory on the write side is bounded.

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
	over  atomic.Bool // the write side's state: over the high mark

	mu      sync.Mutex
	drained chan struct{} // closed when the queue falls to Low; made by a waiter
	ended   bool          // the connection ended: waiters give up
}

// queueSend counts a Send being posted, reporting false (with the
// message refused) past the hard cap.
func (p *process) queueSend(n int, q *WriteQueue) bool {
	wq := p.wq.Load()
	if wq == nil {
		wq = &writeQueue{}
		if !p.wq.CompareAndSwap(nil, wq) {
			wq = p.wq.Load()
		}
	}
	total := wq.bytes.Add(int64(n))
	if total > int64(q.Max) && total > int64(n) { // an empty queue takes any one send
		wq.bytes.Add(-int64(n))
		return false
	}
	if total > int64(q.High) && wq.over.CompareAndSwap(false, true) {
		p.post(overHighMark, true)
	}
	return true
}

// wrote counts n queued bytes as written (actor).
func (c *conn) wrote(n int) {
	wq := c.proc.wq.Load()
	if wq == nil {
		return
	}
	if wq.bytes.Add(-int64(n)) <= int64(c.g.writeQueue.Low) && wq.over.CompareAndSwap(true, false) {
		wq.release(false)
		if c.toldOver { // else the handler never heard it was over: nothing changed for it
			c.toldOver = false
			c.run(cbInfo, behaviours.Writability{Writable: true, Queued: int(wq.bytes.Load())}, nil)
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

// writability is posted when the queue passes the high mark. It is
// posted as a system message, so that it overtakes the sends queued
// ahead of it (the mailbox hands it to Receive): behind them, the handler
// would hear of it only once they had drained the queue.
type writability struct{}

var overHighMark = &writability{}

// overHigh tells the handler the queue is over its high mark, if it
// still is and the handler has not been told (actor).
func (c *conn) overHigh() {
	wq := c.proc.wq.Load()
	if wq == nil || !wq.over.Load() || c.toldOver {
		return
	}
	c.toldOver = true
	c.run(cbInfo, behaviours.Writability{Writable: false, Queued: int(wq.bytes.Load())}, nil)
}

// Writable reports whether the connection is below its high watermark.
func (c *conn) Writable() bool {
	wq := c.proc.wq.Load()
	return wq == nil || !wq.over.Load()
}

// SendSync writes p on the connection pid and returns once it is written
// (or the write failed). While the connection is over its high
// watermark it first waits for its queue to drain (or fails with
// ErrWriteBlocked, WriteQueue.FailFast); waiting, like the request, ends
// with ctx. A PID with no live connection gives an error wrapping
// ErrClosed.
func SendSync(ctx context.Context, s actor.SenderContext, pid *actor.PID, p []byte) error {
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
// sends) when a send is refused past the hard cap.
type overflow struct{}

var overflowStop = &overflow{}
