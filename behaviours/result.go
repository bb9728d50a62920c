package behaviours

import (
	"crypto/tls"
	"time"

	"github.com/etcp-go/etcp/behaviours/internal/result"
)

// Result is what a callback asks for next. The zero value, [Continue],
// asks for nothing. Results combine: every method returns a copy with one
// more action, so
//
//	return behaviours.Send(pong).Timeout(5 * time.Second)
//
// sends a packet and then arms the idle timeout. The connection applies a
// Result in a fixed order: packets are sent (in order, before anything
// else is read), replies go out, the mode and timeout change, then
// StartTLS, then CloseWrite, then Close or Stop, and hibernation last.
//
// A Result with one packet costs no allocation.
type Result struct {
	state // the actions asked for, read by the connection actor only
}

// state is a Result's actions (see package behaviours/internal/result).
type state = result.State

// withExt returns r with its own copy of Ext, ready to change.
func (r Result) withExt() Result {
	e := &result.Ext{}
	if r.Ext != nil {
		*e = *r.Ext
		e.More = append([][]byte(nil), e.More...)
		e.Replies = append([]result.Deferred(nil), e.Replies...)
	}
	r.Ext = e
	return r
}

// Continue asks for nothing: the connection waits for the next event.
func Continue() Result { return Result{} }

// Send asks for p to be written to the socket (framed by the connection's
// framer); see [Result.Send].
func Send(p []byte) Result { return Result{}.Send(p) }

// Reply answers the call being handled (only from HandleCall).
func Reply(v any) Result { return Result{}.Reply(v) }

// ReplyTo answers a call kept from an earlier HandleCall.
func ReplyTo(from From, v any) Result { return Result{}.ReplyTo(from, v) }

// Timeout arms the idle timeout (see [Result.Timeout]).
func Timeout(d time.Duration) Result { return Result{}.Timeout(d) }

// Hibernate asks the connection to give back its memory while it waits.
func Hibernate() Result { return Result{}.Hibernate() }

// Close closes the connection normally, after sending what was asked for.
func Close() Result { return Result{}.Close() }

// Stop ends the connection with reason; Terminate sees it.
func Stop(reason error) Result { return Result{}.Stop(reason) }

// Recv asks for the next read in passive mode (see [Result.Recv]).
func Recv(n int, timeout time.Duration) Result { return Result{}.Recv(n, timeout) }

// Decline, returned from Init, closes the connection quietly (etcp's
// ignore): Terminate does not run and a client start reports
// ErrDeclined.
func Decline() Result { return Result{state{Flags: result.FlagDecline}} }

// Send adds a packet to write. p is framed into the connection's write
// buffer as the Result is applied, right after the callback returns: the
// handler may reuse p from its next callback on.
func (r Result) Send(p []byte) Result {
	if r.Out == nil && (r.Ext == nil || r.Ext.More == nil) {
		r.Out = p
		return r
	}
	r = r.withExt()
	r.Ext.More = append(r.Ext.More, p)
	return r
}

// Reply answers the call being handled; only valid from HandleCall. An
// error value reaches the caller as its error.
func (r Result) Reply(v any) Result {
	r.Flags |= result.FlagReply
	r.ReplyVal = v
	return r
}

// ReplyTo answers a call kept from an earlier HandleCall, from any
// callback.
func (r Result) ReplyTo(from From, v any) Result {
	r = r.withExt()
	r.Ext.Replies = append(r.Ext.Replies, result.Deferred{To: from.pid, V: v})
	return r
}

// Timeout arms the idle timeout: if no message or packet arrives within d,
// Timeout runs, and again every d while nothing arrives. Any arrival
// re-arms it. 0 fires as soon as the mailbox is empty; [Never] clears it.
func (r Result) Timeout(d time.Duration) Result {
	r.Flags |= result.FlagTimeout
	r.TimeoutDur = d
	return r
}

// Hibernate asks the connection to give back all the memory it can until
// the next packet or message; it applies to the next wait only, and no
// timeout fires while hibernated. A TCP or Unix connection is passivated:
// its actor stops and is spawned again, with the same PID and handler,
// when something arrives (Init does not run again). The Conn and actor
// context a callback was given are not the ones after a wake.
func (r Result) Hibernate() Result {
	r.Flags |= result.FlagHibernate
	return r
}

// Close closes the connection normally once everything asked for is sent.
func (r Result) Close() Result {
	r.Flags |= result.FlagClose
	return r
}

// Stop ends the connection with reason (nil is a normal stop).
func (r Result) Stop(reason error) Result {
	r = r.withExt()
	r.Flags |= result.FlagStop
	r.Ext.StopErr = reason
	return r
}

// Recv asks for the next read in passive mode: n bytes (0 = whatever is
// available, or one frame when framing is on), within timeout (0 or
// [Never] = no timeout). If the timeout passes, SocketReadTimeout runs.
func (r Result) Recv(n int, timeout time.Duration) Result {
	r.Flags |= result.FlagRecv
	r.RecvBytes, r.RecvTimeout = n, timeout
	return r
}

// Active switches the connection to active mode: every frame is delivered
// as it arrives. n > 0 delivers n more frames, then turns passive
// (Erlang's {active, N}); n <= 0 means no limit.
func (r Result) Active(n int) Result {
	r.Flags = r.Flags&^result.FlagPassive | result.FlagActive
	r.ActiveFrames = int32(min(max(n, 0), 1<<31-1))
	return r
}

// Passive switches the connection to passive mode: nothing is read until
// the handler asks with [Result.Recv].
func (r Result) Passive() Result {
	r.Flags = r.Flags&^result.FlagActive | result.FlagPassive
	return r
}

// StartTLS upgrades the live connection to TLS after the packets of this
// Result are sent: as a server if the connection was accepted, as a client
// if it was dialled. The actor, PID and handler state stay; a failed
// handshake ends the connection.
func (r Result) StartTLS(cfg *tls.Config) Result {
	r = r.withExt()
	r.Flags |= result.FlagStartTLS
	r.Ext.TLS = cfg
	return r
}
