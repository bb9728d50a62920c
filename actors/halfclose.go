package actors

import (
	"fmt"

	"github.com/etcp-go/etcp/behaviours"
)

// Half-close: each direction of a connection can end on its own.
//
// The peer's side. Its FIN reads as the end of the stream. By default
// HandleDisconnect runs and the connection ends. With WithHalfClose the
// read side ends alone: the posted read is released to stHalfClosed
// (state.go), where the actor owns the socket and no one reads it again,
// and the connection goes on writing until its handler closes it or a
// write fails. It may hibernate and passivate there (it sleeps unwatched:
// there is nothing to read) and wakes half-closed.
//
// Our side. Result.CloseWrite shuts the socket's write side down once
// every byte asked for before it is written: at once if nothing is
// queued, else when the flusher has written the backlog (the notice it
// posts then, writeIdle). From the request on, nothing more is written
// (outbox.closeWrite): a later packet ends the connection with
// ErrWriteClosed. Once shut, the write side is in wsShut (writestate.go),
// which also keeps the connection from passivating: a woken actor would
// not know its socket is shut.
//
// When both directions have ended, the connection ends normally.

// onPeerClosed handles the peer's FIN, read in the posted read's turn.
func (c *conn) onPeerClosed() {
	half := c.g.halfClose
	if half {
		c.dropWatch() // nothing is read again: the event loop need not watch
		c.releaseRead(stHalfClosed)
		c.clearRecv() // a passive read asked for can never complete
	}
	r, err := c.invoke(cbDisconnect, nil, nil, behaviours.From{})
	if err != nil {
		c.terminate(err)
		return
	}
	c.apply(cbDisconnect, &r)
	if c.life != lifeDone && (!half || c.writeShutAsked()) {
		c.terminate(nil)
	}
}

// applyHalfClose applies a Result's CloseWrite and refuses what a
// half-closed connection cannot do, reporting false if the connection
// ended (actor, from apply, before Close and Stop).
func (c *conn) applyHalfClose(cb callback, r *behaviours.Result) bool {
	_, _, recv := r.RecvRequest()
	_, upgrade := r.TLSUpgrade()
	if !recv && !upgrade && !r.ClosingWrite() {
		return true
	}
	peerClosed := c.proc.st.load() == stHalfClosed
	switch {
	case recv && peerClosed:
		c.terminate(invalid(cb, "Recv after the peer closed its side (HandleDisconnect ran)"))
		return false
	case upgrade && (peerClosed || c.writeShutAsked() || r.ClosingWrite()):
		c.terminate(invalid(cb, "StartTLS on a half-closed connection"))
		return false
	case !r.ClosingWrite(), r.Closing():
		return true // a Close or Stop of the same Result closes both sides
	case c.writeShutAsked():
		return true // asked before: once is enough
	}
	if _, stopping := r.StopReason(); stopping {
		return true
	}
	if peerClosed {
		c.terminate(nil) // both sides are done: the end delivers what is queued, then closes
		return false
	}
	if err := c.flush(); err != nil { // this Result's packets go before the FIN
		c.terminate(err)
		return false
	}
	c.outbox().closeWrite = true
	return c.shutWhenWritten()
}

// writeShutAsked reports whether the handler asked for CloseWrite (actor).
func (c *conn) writeShutAsked() bool { return c.ob != nil && c.ob.closeWrite }

// shutWhenWritten shuts the write side down once nothing is left to
// write; until then the flusher's notice brings the actor back here
// (onWriteNotice). It reports false if the connection ended (actor).
func (c *conn) shutWhenWritten() bool {
	if c.writeState() == wsShut || !c.writeIdle() {
		return true
	}
	if err := c.sock.CloseWrite(); err != nil {
		c.terminate(fmt.Errorf("etcp: close write: %w", err))
		return false
	}
	c.ob.st.move(wsDirect, wsShut)
	if c.proc.st.load() == stHalfClosed { // the peer closed first: both sides are done
		c.terminate(nil)
		return false
	}
	return true
}

// refuseWrite refuses what was queued after CloseWrite: the connection
// ends with ErrWriteClosed, and the replies waiting on those bytes hear
// it (actor, flushing).
func (c *conn) refuseWrite(credit int) error {
	c.releaseOut()
	c.proc.addQueued(-credit)
	return c.settleAcks(fmt.Errorf("%w: sent after CloseWrite", ErrWriteClosed))
}
