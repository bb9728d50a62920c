package actors

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/etcp-go/etcp/behaviours"
)

// callback names one handler method, for errors and traces.
type callback uint8

const (
	cbInit callback = iota
	cbPacket
	cbCall
	cbCast
	cbEvent
	cbInfo
	cbDisconnect
	cbTimeout
	cbReadTimeout
)

var callbackNames = [...]string{"Init", "HandlePacket", "HandleCall", "HandleCast", "HandleEvent",
	"HandleInfo", "HandleDisconnect", "Timeout", "SocketReadTimeout"}

func (cb callback) String() string { return callbackNames[cb] }

// invoke runs one callback, turning a panic into a *CallbackError. The
// deferred closure does not escape, so the call costs no allocation.
func (c *conn) invoke(cb callback, msg any, p []byte, from behaviours.From) (r behaviours.Result, err error) {
	if m := c.g.metrics; m != nil {
		defer m.timed(cb, time.Now())
	}
	defer func() {
		if v := recover(); v != nil {
			err = &CallbackError{Callback: cb.String(), Cause: v, Stack: debug.Stack()}
		}
	}()
	h := c.handler
	switch cb {
	case cbPacket:
		r = h.HandlePacket(c, p)
	case cbInit:
		r = h.Init(c, msg)
	case cbCall:
		r = h.HandleCall(c, msg, from)
	case cbCast:
		r = h.HandleCast(c, msg)
	case cbEvent:
		r = h.HandleEvent(c, msg)
	case cbInfo:
		r = h.HandleInfo(c, msg)
	case cbDisconnect:
		r = h.HandleDisconnect(c)
	case cbTimeout:
		r = h.Timeout(c)
	case cbReadTimeout:
		r = h.SocketReadTimeout(c)
	}
	return r, nil
}

// invokeTerminate runs Terminate, which may replace the reason.
func (c *conn) invokeTerminate(reason error) (final error) {
	defer func() {
		if v := recover(); v != nil {
			final = &CallbackError{Callback: "Terminate", Cause: v, Stack: debug.Stack()}
		}
	}()
	return c.handler.Terminate(c, reason)
}

// invokeCodeChange runs CodeChange.
func (c *conn) invokeCodeChange(m *CodeChange) (h behaviours.Handler, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &CallbackError{Callback: "CodeChange", Cause: v, Stack: debug.Stack()}
		}
	}()
	return c.handler.CodeChange(c, m.OldVersion, m.Extra)
}

func invalid(cb callback, format string, args ...any) error {
	return &CallbackError{Callback: cb.String(), Cause: fmt.Errorf("%w: "+format, append([]any{ErrInvalidResult}, args...)...)}
}
