package actors

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/etcp-go/etcp/actors/internal/wirepb"
)

// FuzzWire decodes any bytes as each message another node can send a
// connection, and as a reply: turning them into what a handler sees
// never panics, and a payload that decodes comes back out the same.
func FuzzWire(f *testing.F) {
	s, _ := anypb.New(wrapperspb.String("hi"))
	for _, m := range []proto.Message{&wirepb.Call{Request: s}, &wirepb.Cast{Message: s}, &wirepb.Event{Event: s},
		&wirepb.Info{Message: s}, &wirepb.Send{Data: []byte("x")}, &wirepb.Stop{Reason: "r"}, &wirepb.Reply{Value: s},
		&wirepb.Reply{Code: "forbidden", Error: "etcp: forbidden: node x has read, needs send"}} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []proto.Message{&wirepb.Call{}, &wirepb.Cast{}, &wirepb.Event{}, &wirepb.Info{}, &wirepb.Send{},
			&wirepb.Stop{}, &wirepb.Reply{}} {
			m = m.ProtoReflect().New().Interface()
			if proto.Unmarshal(data, m) != nil {
				continue
			}
			local, wire, err := fromWire(m)
			if !wire {
				t.Fatalf("%T not taken as a wire message", m)
			}
			if err == nil && local == nil {
				t.Fatalf("%T decoded to nothing", m)
			}
		}
		var r wirepb.Reply
		if proto.Unmarshal(data, &r) == nil {
			v, err := replyFromWire(&r)
			if err == nil && r.Value != nil && v == nil {
				t.Fatal("a reply with a value decoded to nothing")
			}
		}
	})
}
