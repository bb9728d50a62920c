package behaviours

import (
	"crypto/tls"
	"time"
)

// The accessors below are for the connection actor that applies a Result;
// handlers build Results with the constructors and never need them.

// Packets calls f for each packet to send, in order, stopping at the first
// error.
func (r *Result) Packets(f func([]byte) error) error {
	if r.out != nil {
		if err := f(r.out); err != nil {
			return err
		}
	}
	if r.ext == nil {
		return nil
	}
	for _, p := range r.ext.more {
		if err := f(p); err != nil {
			return err
		}
	}
	return nil
}

// HasPackets reports whether the Result sends anything.
func (r *Result) HasPackets() bool { return r.out != nil || (r.ext != nil && r.ext.more != nil) }

// ReplyValue returns the reply to the current call, if one was asked for.
func (r *Result) ReplyValue() (any, bool) { return r.reply, r.flags&flagReply != 0 }

// HasDeferredReplies reports whether the Result answers kept callers.
func (r *Result) HasDeferredReplies() bool { return r.ext != nil && len(r.ext.replies) > 0 }

// DeferredReplies calls f for each [Result.ReplyTo].
func (r *Result) DeferredReplies(f func(From, any)) {
	if r.ext == nil {
		return
	}
	for _, d := range r.ext.replies {
		f(d.to, d.v)
	}
}

// TimeoutValue returns the idle timeout asked for, if any.
func (r *Result) TimeoutValue() (time.Duration, bool) { return r.timeout, r.flags&flagTimeout != 0 }

// Hibernating reports whether hibernation was asked for.
func (r *Result) Hibernating() bool { return r.flags&flagHibernate != 0 }

// Closing reports whether a normal close was asked for.
func (r *Result) Closing() bool { return r.flags&flagClose != 0 }

// StopReason returns the stop reason, if a stop was asked for.
func (r *Result) StopReason() (error, bool) {
	if r.flags&flagStop == 0 {
		return nil, false
	}
	return r.ext.stop, true
}

// Declined reports whether Init declined the connection.
func (r *Result) Declined() bool { return r.flags&flagDecline != 0 }

// RecvRequest returns the passive read asked for, if any.
func (r *Result) RecvRequest() (n int, timeout time.Duration, ok bool) {
	return r.recvN, r.recvTO, r.flags&flagRecv != 0
}

// ModeChange returns the mode asked for: active (with its frame limit, 0
// for none) or passive.
func (r *Result) ModeChange() (active bool, n int, ok bool) {
	switch {
	case r.flags&flagActive != 0:
		return true, int(r.activeN), true
	case r.flags&flagPassive != 0:
		return false, 0, true
	}
	return false, 0, false
}

// TLSUpgrade returns the TLS configuration of a StartTLS, if asked for.
func (r *Result) TLSUpgrade() (*tls.Config, bool) {
	if r.flags&flagStartTLS == 0 {
		return nil, false
	}
	return r.ext.tlsConf, true
}
