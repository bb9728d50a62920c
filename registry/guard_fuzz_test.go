package registry

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"
)

// fuzzSeeds are encoded RemoteMessages of every kind the guard looks at.
func fuzzSeeds() [][]byte {
	peer, other := "127.0.0.1:7001", "127.0.0.1:7002"
	stop, _ := proto.Marshal(&actor.Stop{})
	watch, _ := proto.Marshal(&actor.Watch{Watcher: actor.NewPID(other, "w")})
	term, _ := proto.Marshal(&actor.Terminated{Who: actor.NewPID(peer, "x")})
	msgs := []*remote.RemoteMessage{
		{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
			ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{SystemId: "s", Address: peer}}}}},
		{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
			TypeNames: []string{"actor.Stop", "actor.Watch", "actor.Terminated", "google.protobuf.StringValue"},
			Targets:   []*actor.PID{actor.NewPID("127.0.0.1:7000", "t")},
			Senders:   []*actor.PID{actor.NewPID(peer, "s"), actor.NewPID(other, "s")},
			Envelopes: []*remote.MessageEnvelope{
				{TypeId: 0, MessageData: stop},
				{TypeId: 1, MessageData: watch, Sender: 1},
				{TypeId: 2, MessageData: term},
				{TypeId: 3, Sender: 2, MessageHeader: &remote.MessageHeader{HeaderData: map[string]string{peerHeader: "forged"}}},
				{TypeId: 3, Sender: 1, Target: 0},
			},
		}}},
	}
	var out [][]byte
	for _, m := range msgs {
		b, _ := proto.Marshal(m)
		out = append(out, b)
	}
	return out
}

// FuzzGuard feeds the guard any RemoteMessage a peer could send: it never
// panics, and what it lets through is well-formed, sent from the proven
// node, allowed by its roles and stamped with them.
func FuzzGuard(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, uint8(RoleRead))
	}
	n := &Node{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n.cap.Store(uint32(RoleAll))
	f.Fuzz(func(t *testing.T, data []byte, roles uint8) {
		var m remote.RemoteMessage
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		g := &guardedStream{n: n, peer: "127.0.0.1:7001", base: Role(roles) & RoleAll}
		g.stamp()
		switch mt := m.MessageType.(type) {
		case *remote.RemoteMessage_ConnectRequest:
			_ = g.connect(mt.ConnectRequest) // no credentials: refused, never a panic
		case *remote.RemoteMessage_MessageBatch:
			b := mt.MessageBatch
			g.filter(b)
			for _, e := range b.Envelopes {
				if int(e.TypeId) >= len(b.TypeNames) || int(e.Target) >= len(b.Targets) || int(e.Sender) > len(b.Senders) ||
					e.TypeId < 0 || e.Target < 0 || e.Sender < 0 {
					t.Fatalf("kept an envelope with an index out of its batch: %v", e)
				}
				if e.Sender > 0 && b.Senders[e.Sender-1].GetAddress() != g.peer {
					t.Fatalf("kept a sender on another node: %v", b.Senders[e.Sender-1])
				}
				h := e.MessageHeader.GetHeaderData()
				if h[peerHeader] != g.peer || h[rolesHeader] != g.header.HeaderData[rolesHeader] {
					t.Fatalf("kept an envelope without the guard's stamp: %v", h)
				}
				switch b.TypeNames[e.TypeId] {
				case "actor.Stop", "actor.PoisonPill", "remote.ActorPidRequest":
					if !g.stamped.Has(RoleControl) {
						t.Fatalf("kept %s from a node with %s", b.TypeNames[e.TypeId], g.stamped)
					}
				}
			}
		}
	})
}

// FuzzCookieHandshake answers the cookie's challenge with anything: the
// node refuses, and never panics.
func FuzzCookieHandshake(f *testing.F) {
	f.Add(make([]byte, nonceLen+macLen))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	creds := newCookieCreds("a cookie of sixteen bytes or more")
	f.Fuzz(func(t *testing.T, answer []byte) {
		server, client := net.Pipe()
		defer client.Close()
		done := make(chan error, 1)
		go func() {
			_, _, err := creds.ServerHandshake(server)
			server.Close()
			done <- err
		}()
		go func() { // net.Pipe is unbuffered: the client reads whatever comes
			_, _ = io.ReadFull(client, make([]byte, len(cookieMagic)+nonceLen))
			if len(answer) < nonceLen+macLen {
				_, _ = client.Write(answer)
				client.Close() // the rest never comes
				return
			}
			_, _ = client.Write(answer[:nonceLen+macLen])
			_, _ = io.Copy(io.Discard, client)
		}()
		if err := <-done; err == nil {
			t.Fatal("an answer made without the cookie was accepted")
		}
	})
}
