package behaviours

import "fmt"

// Base gives every callback a sensible default. Embed it in a handler and
// write only the callbacks you use:
//
//	type echo struct{ behaviours.Base }
//
//	func (echo) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
//		return behaviours.Send(p)
//	}
type Base struct{}

var _ Handler = Base{}

// Init accepts the connection.
func (Base) Init(Conn, any) Result { return Continue() }

// HandlePacket drops the packet.
func (Base) HandlePacket(Conn, []byte) Result { return Continue() }

// HandleCall answers at once with an error wrapping [ErrUnhandledCall], so
// a caller never waits out its timeout.
func (Base) HandleCall(_ Conn, req any, _ From) Result {
	return Reply(fmt.Errorf("%w: %T", ErrUnhandledCall, req))
}

// HandleCast ignores the cast.
func (Base) HandleCast(Conn, any) Result { return Continue() }

// HandleEvent ignores the event.
func (Base) HandleEvent(Conn, any) Result { return Continue() }

// HandleInfo ignores the message.
func (Base) HandleInfo(Conn, any) Result { return Continue() }

// HandleDisconnect lets the connection end normally (with half-close on,
// it keeps the connection up for writing: the handler closes it).
func (Base) HandleDisconnect(Conn) Result { return Continue() }

// Timeout does nothing; the timeout stays armed.
func (Base) Timeout(Conn) Result { return Continue() }

// SocketReadTimeout ends the connection with [ErrReadTimeout].
func (Base) SocketReadTimeout(Conn) Result { return Stop(ErrReadTimeout) }

// Terminate keeps the reason.
func (Base) Terminate(_ Conn, reason error) error { return reason }

// CodeChange keeps the current handler (a nil Handler means unchanged).
func (Base) CodeChange(Conn, string, any) (Handler, error) { return nil, nil }
