package manage

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// requests are the messages another node can ask the endpoint.
var requests = []proto.Message{&managepb.Hello{}, &managepb.ListServers{}, &managepb.ListAcceptors{},
	&managepb.ListPools{}, &managepb.ListConns{}, &managepb.Inspect{}, &managepb.CallConn{}, &managepb.CastConn{},
	&managepb.StopConn{}, &managepb.HibernateConn{}, &managepb.WakeConn{}, &managepb.TraceConn{},
	&managepb.SleepServer{}, &managepb.WakeServer{}, &managepb.SetMaxConnections{}, &managepb.DrainServer{},
	&managepb.StopServer{}}

// FuzzRequest serves any bytes as each request the endpoint takes, on
// an endpoint with actions and a live server with a connection: the
// endpoint answers every one, and none panics.
func FuzzRequest(f *testing.F) {
	for i, m := range []proto.Message{&managepb.ListConns{Limit: 5}, &managepb.Inspect{Conn: &managepb.ConnRef{Owner: "srv", Id: 1}},
		&managepb.CallConn{Conn: &managepb.ConnRef{Name: "x"}}, &managepb.SetMaxConnections{Server: "srv", Max: 3},
		&managepb.DrainServer{Server: "srv", GraceMs: 1}} {
		b, _ := proto.Marshal(m)
		f.Add(uint8(i), b)
	}
	sys := actors.NewSystem(nil)
	defer sys.Shutdown()
	node, err := registry.StartNode(sys)
	require.NoError(f, err)
	defer node.Shutdown()
	srv, err := server.Start(sys, func() behaviours.Handler { return &behaviours.Base{} }, nil, "127.0.0.1:0",
		server.WithName("srv"))
	require.NoError(f, err)
	defer srv.Stop(context.Background(), nil)
	c, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(f, err)
	defer c.Close()
	e, err := Enable(node, WithServers(srv), WithActions())
	require.NoError(f, err)
	defer e.Close()
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		m := requests[int(kind)%len(requests)].ProtoReflect().New().Interface()
		if proto.Unmarshal(data, m) != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		r := e.handle(ctx, m)
		if r == nil {
			t.Fatalf("no answer to %T", m)
		}
		if er, ok := r.(*managepb.Error); ok && strings.HasPrefix(er.Message, "panic") {
			t.Fatalf("%T %v: %s", m, m, er.Message)
		}
	})
}
