package actors

import (
	"errors"
	"fmt"
	"net"

	"github.com/etcp-go/etcp/transport"
)

// How a connection's socket ends follows why the connection ended, not
// what Terminate made of the reason:
//
//   - a clean end (the peer closed, Close, Stop, the owner's stop): the
//     bytes queued are delivered, then a FIN;
//   - an error end over bad input or a failing handler (an oversized or
//     malformed frame, a panic, an invalid Result): the replies already
//     queued for earlier, valid requests are delivered and taken by the
//     peer, then a reset, so that the peer neither loses them nor mistakes
//     the end for a clean one;
//   - an end that must be at once (the write or idle timeout, an
//     overflow, a stop forced by the owner): a reset now, and what was
//     queued is dropped.
//
// A connection whose queued bytes are still going out when it ends leaves
// them to its flusher, which closes the socket once done (or once the
// peer takes nothing for the write timeout, or the owner forces it).
type endKind uint8

const (
	endClean        endKind = iota // deliver, then FIN
	endAfterReplies                // deliver until the peer has it all, then reset
	endNow                         // reset now, drop what is queued
)

// endOf is how a connection ending with reason closes its socket.
func (c *conn) endOf(reason error) endKind {
	switch {
	case reason == nil:
		return endClean
	case c.g.forced.Load(), errors.Is(reason, ErrWriteTimeout), errors.Is(reason, ErrIdleTimeout),
		errors.Is(reason, ErrOverflow):
		return endNow
	case errors.Is(reason, ErrCallbackPanic), errors.Is(reason, ErrInvalidResult),
		errors.Is(reason, transport.ErrFrameTooLarge), errors.Is(reason, transport.ErrBadFrame):
		return endAfterReplies
	}
	return endClean
}

// endWrite ends the write side as end says: it closes the socket now,
// or hands it to the flusher to close once its bytes are delivered
// (actor, ending).
func (c *conn) endWrite(end endKind, reason error) {
	if c.ob == nil && end != endAfterReplies { // never had a backlog: the common case
		if end == endNow {
			reset(c.sock)
		}
		c.sock.Close()
		return
	}
	ob := c.outbox()
	ob.mu.Lock()
	st := ob.st.load()
	switch {
	case end != endNow && st == wsFlushing:
		ob.resetAfter = end == endAfterReplies
		ob.st.move(wsFlushing, wsClosing)
		ob.mu.Unlock()
		c.refusePending(reason)
		return
	case end == endAfterReplies && st == wsDirect:
		if n, ok := unsent(c.sock); ok && n > 0 {
			ob.resetAfter = true
			ob.st.move(wsDirect, wsClosing)
			ob.mu.Unlock()
			c.refusePending(reason)
			c.startFlusher() // it finds no backlog: it waits for the peer, then resets
			return
		}
	}
	ob.st.move(st, wsClosed)
	ob.buf, ob.head = nil, 0
	ob.answerAcks(c, closedBy(reason))
	lw := ob.lw
	owned := lw != nil && lw.cancel()
	ob.mu.Unlock()
	c.refusePending(reason)
	if owned {
		lw.end()
	}
	if st == wsFlushing {
		c.sock.SetWriteDeadline(kickTime) // the flusher's write returns at once
	}
	if end != endClean || st == wsFailed {
		reset(c.sock)
	}
	c.sock.Close()
}

// refusePending answers the replies of the actor's last turn that never
// reached the write side (actor, ending).
func (c *conn) refusePending(reason error) {
	for _, a := range c.ob.pending {
		c.sendReply(a.to, closedBy(reason))
	}
	c.ob.pending = nil
}

// closedBy is the error a request hears when the connection ended (with
// reason) before its bytes were written.
func closedBy(reason error) error {
	if reason == nil {
		return errConnClosed
	}
	return fmt.Errorf("%w: %w", errConnClosed, reason)
}

// reset makes the socket's close a reset (linger 0), so the peer sees
// ECONNRESET rather than a clean end of stream.
func reset(sock any) {
	switch s := sock.(type) {
	case interface{ SetLinger(int) error }:
		_ = s.SetLinger(0)
	case interface{ NetConn() net.Conn }:
		reset(s.NetConn())
	}
}
