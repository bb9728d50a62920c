package actors

import (
	"errors"
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/etcp-go/etcp/actors/internal/wirepb"
	"github.com/etcp-go/etcp/registry"
)

// Messages to and from other nodes. protoactor remote carries protobuf
// only, so a Call, Cast, Event, Send or Stop for a connection on another
// node travels as its etcp.conn.v1 form (internal/wirepb), and so does
// the Reply; a string or []byte for HandleInfo travels as an Info.
// Payloads are protobuf messages; a Go string or []byte is carried as a
// StringValue or BytesValue and arrives as a string or []byte again, so
// a handler written for local callers serves remote ones unchanged.

// ErrNotWire: a message to a connection on another node has a payload
// that cannot cross the wire (not a protobuf message, string or []byte).
var ErrNotWire = errors.New("etcp: payload cannot cross to another node (want a protobuf message, string or []byte)")

// admitRemote checks a message from another node against the roles the
// node has here (registry.Roles): sending to the connection (Send, Cast,
// Event, Call, any HandleInfo message) needs RoleSend, stopping it
// RoleControl. A message in wire form that no guard vouched for is
// refused on a guarded node. Messages from this node pass.
func admitRemote(ctx actor.Context, msg any) error {
	need := registry.RoleSend
	switch msg.(type) {
	case *wirepb.Stop, *Stop:
		need = registry.RoleControl
	case *wirepb.Call, *wirepb.Cast, *wirepb.Event, *wirepb.Info, *wirepb.Send, *wirepb.Reply:
		if _, ok := registry.PeerOf(ctx); !ok {
			return registry.Unproven(ctx)
		}
	case actor.SystemMessage, actor.AutoReceiveMessage:
		return nil // protoactor's own: the node's guard checks those from other nodes
	}
	return registry.Allow(ctx, need)
}

// remote reports whether pid lives on another node than sys.
func remote(sys *actor.ActorSystem, pid *actor.PID) bool {
	return pid != nil && pid.Address != "" && pid.Address != sys.Address()
}

// toWire turns a message for a connection into its wire form.
func toWire(msg any) (proto.Message, error) {
	switch m := msg.(type) {
	case *Call:
		a, err := pack(m.Request)
		return &wirepb.Call{Request: a}, err
	case *Cast:
		a, err := pack(m.Message)
		return &wirepb.Cast{Message: a}, err
	case *Event:
		a, err := pack(m.Event)
		return &wirepb.Event{Event: a}, err
	case *Send:
		return &wirepb.Send{Data: m.Data}, nil
	case *Stop:
		s := ""
		if m.Reason != nil {
			s = m.Reason.Error()
		}
		return &wirepb.Stop{Reason: s}, nil
	case proto.Message:
		return m, nil // an Info message of the user's own
	case string, []byte: // for HandleInfo, as Cast and Event carry them
		a, err := pack(m)
		return &wirepb.Info{Message: a}, err
	}
	return nil, fmt.Errorf("%w: %T", ErrNotWire, msg)
}

// fromWire turns a message from another node into what a connection
// handles; ok is false for any other message.
func fromWire(msg any) (any, bool, error) {
	switch m := msg.(type) {
	case *wirepb.Call:
		v, err := unpack(m.Request)
		return &Call{Request: v}, true, err
	case *wirepb.Cast:
		v, err := unpack(m.Message)
		return &Cast{Message: v}, true, err
	case *wirepb.Event:
		v, err := unpack(m.Event)
		return &Event{Event: v}, true, err
	case *wirepb.Info:
		if m.Message == nil { // toWire never sends one: nothing to hand HandleInfo
			return nil, true, errors.New("etcp: an Info from another node without a message")
		}
		v, err := unpack(m.Message)
		return v, true, err
	case *wirepb.Send:
		return &Send{Data: m.Data}, true, nil
	case *wirepb.Stop:
		var reason error
		if m.Reason != "" {
			reason = errors.New(m.Reason)
		}
		return &Stop{Reason: reason}, true, nil
	case *wirepb.Reply: // a reply no request waits for: HandleInfo sees it as a local one
		v, err := replyFromWire(m)
		return &Reply{Value: v, Err: err}, true, nil
	}
	return msg, false, nil
}

// replyToWire is a Reply for a caller on another node.
func replyToWire(v any) *wirepb.Reply {
	if err, ok := v.(error); ok {
		r := &wirepb.Reply{Error: err.Error()}
		switch {
		case errors.Is(err, ErrClosed):
			r.Code = "closed"
		case errors.Is(err, registry.ErrForbidden):
			r.Code = "forbidden"
		}
		return r
	}
	a, err := pack(v)
	if err != nil {
		return &wirepb.Reply{Error: err.Error()}
	}
	return &wirepb.Reply{Value: a}
}

// replyFromWire is a Reply from a connection on another node.
func replyFromWire(r *wirepb.Reply) (any, error) {
	switch {
	case r.Code == "closed":
		// The remote error already says it is closed: say it once.
		rest := r.Error
		for _, p := range []string{errConnClosed.Error(), ErrClosed.Error()} {
			if strings.HasPrefix(rest, p) {
				rest = strings.TrimPrefix(rest[len(p):], ": ")
				break
			}
		}
		if rest == "" {
			return nil, errConnClosed
		}
		return nil, fmt.Errorf("%w: %s", errConnClosed, rest)
	case r.Code == "forbidden":
		return nil, fmt.Errorf("%w (%s)", registry.ErrForbidden, strings.TrimPrefix(r.Error, registry.ErrForbidden.Error()+": "))
	case r.Error != "":
		return nil, errors.New(r.Error)
	}
	return unpack(r.Value)
}

// pack wraps a payload in an Any (nil stays nil).
func pack(v any) (*anypb.Any, error) {
	var m proto.Message
	switch x := v.(type) {
	case nil:
		return nil, nil
	case proto.Message:
		m = x
	case string:
		m = wrapperspb.String(x)
	case []byte:
		m = wrapperspb.Bytes(x)
	default:
		return nil, fmt.Errorf("%w: %T", ErrNotWire, v)
	}
	return anypb.New(m)
}

// unpack opens an Any: a StringValue or BytesValue as a string or
// []byte. A type this node does not know is an error.
func unpack(a *anypb.Any) (any, error) {
	if a == nil {
		return nil, nil
	}
	m, err := a.UnmarshalNew()
	if err != nil {
		return nil, fmt.Errorf("etcp: a payload from another node: %w", err)
	}
	switch x := m.(type) {
	case *wrapperspb.StringValue:
		return x.GetValue(), nil
	case *wrapperspb.BytesValue:
		return x.GetValue(), nil
	}
	return m, nil
}

// tell sends msg (a Cast, Event, Send, or any message for HandleInfo)
// to a connection without waiting, in its wire form when the connection
// is on another node (host.Tell).
func tell(s actor.SenderContext, pid *actor.PID, msg any) error {
	if remote(s.ActorSystem(), pid) {
		w, err := toWire(msg)
		if err != nil {
			return err
		}
		msg = w
	}
	s.Send(pid, msg)
	return nil
}
