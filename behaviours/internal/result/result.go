// Package result is a behaviours.Result's state and the accessors the
// connection actor applies it with (package actors, through the methods
// a Result promotes); handlers build Results with the constructors of
// package behaviours and never see this.
package result

import (
	"crypto/tls"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// State is what a Result asks for. The common actions live inline; the
// rare ones behind Ext, so the value copied through every callback
// return stays small (and so do the stacks of the goroutines that run
// callbacks).
type State struct {
	Out          []byte
	ReplyVal     any
	TimeoutDur   time.Duration
	RecvTimeout  time.Duration
	RecvBytes    int
	ActiveFrames int32
	Flags        Flag
	Ext          *Ext // copied on write: Results are values
}

// Ext holds the rarely used actions of a Result.
type Ext struct {
	More    [][]byte
	Replies []Deferred
	StopErr error
	TLS     *tls.Config
}

// Deferred is a ReplyTo: the reply v to the kept caller To.
type Deferred struct {
	To *actor.PID
	V  any
}

// Flag marks an action asked for.
type Flag uint16

// The actions.
const (
	FlagTimeout Flag = 1 << iota
	FlagHibernate
	FlagClose
	FlagStop
	FlagReply
	FlagRecv
	FlagDecline
	FlagStartTLS
	FlagActive
	FlagPassive
	FlagCloseWrite
)

// The accessors below are for the connection actor that applies a Result.

// Packets calls f for each packet to send, in order, stopping at the first
// error.
func (r *State) Packets(f func([]byte) error) error {
	if r.Out != nil {
		if err := f(r.Out); err != nil {
			return err
		}
	}
	if r.Ext == nil {
		return nil
	}
	for _, p := range r.Ext.More {
		if err := f(p); err != nil {
			return err
		}
	}
	return nil
}

// HasPackets reports whether the Result sends anything.
func (r *State) HasPackets() bool { return r.Out != nil || (r.Ext != nil && r.Ext.More != nil) }

// ReplyValue returns the reply to the current call, if one was asked for.
func (r *State) ReplyValue() (any, bool) { return r.ReplyVal, r.Flags&FlagReply != 0 }

// HasDeferredReplies reports whether the Result answers kept callers.
func (r *State) HasDeferredReplies() bool { return r.Ext != nil && len(r.Ext.Replies) > 0 }

// DeferredReplies calls f for each ReplyTo, with the caller's PID.
func (r *State) DeferredReplies(f func(to *actor.PID, v any)) {
	if r.Ext == nil {
		return
	}
	for _, d := range r.Ext.Replies {
		f(d.To, d.V)
	}
}

// TimeoutValue returns the idle timeout asked for, if any.
func (r *State) TimeoutValue() (time.Duration, bool) { return r.TimeoutDur, r.Flags&FlagTimeout != 0 }

// Hibernating reports whether hibernation was asked for.
func (r *State) Hibernating() bool { return r.Flags&FlagHibernate != 0 }

// ClosingWrite reports whether a CloseWrite was asked for.
func (r *State) ClosingWrite() bool { return r.Flags&FlagCloseWrite != 0 }

// Closing reports whether a normal close was asked for.
func (r *State) Closing() bool { return r.Flags&FlagClose != 0 }

// StopReason returns the stop reason, if a stop was asked for.
func (r *State) StopReason() (error, bool) {
	if r.Flags&FlagStop == 0 {
		return nil, false
	}
	return r.Ext.StopErr, true
}

// Declined reports whether Init declined the connection.
func (r *State) Declined() bool { return r.Flags&FlagDecline != 0 }

// RecvRequest returns the passive read asked for, if any.
func (r *State) RecvRequest() (n int, timeout time.Duration, ok bool) {
	return r.RecvBytes, r.RecvTimeout, r.Flags&FlagRecv != 0
}

// ModeChange returns the mode asked for: active (with its frame limit, 0
// for none) or passive.
func (r *State) ModeChange() (active bool, n int, ok bool) {
	switch {
	case r.Flags&FlagActive != 0:
		return true, int(r.ActiveFrames), true
	case r.Flags&FlagPassive != 0:
		return false, 0, true
	}
	return false, 0, false
}

// TLSUpgrade returns the TLS configuration of a StartTLS, if asked for.
func (r *State) TLSUpgrade() (*tls.Config, bool) {
	if r.Flags&FlagStartTLS == 0 {
		return nil, false
	}
	return r.Ext.TLS, true
}
