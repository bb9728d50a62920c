package manage_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/transport"
)

type echo struct{ behaviours.Base }

func (echo) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result { return behaviours.Send(p) }

func (echo) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply(fmt.Sprintf("%T %v", req, req))
}

// A node serves its management endpoint; a client lists the connections
// of its server and calls one. Here the client talks to its own node;
// from another process it would start a node of its own and Dial the
// endpoint's node address.
func Example() {
	sys := actors.NewSystem(nil)
	node, err := registry.StartNode(sys) // 127.0.0.1, a free port
	if err != nil {
		panic(err)
	}
	defer node.Shutdown()
	srv, err := server.Start(sys, func() behaviours.Handler { return echo{} }, nil, "127.0.0.1:0",
		server.WithName("echo"), actors.WithSocket(transport.WithFramer(transport.Line())))
	if err != nil {
		panic(err)
	}
	defer srv.Stop(context.Background(), nil)
	ep, err := manage.Enable(node, manage.WithServers(srv), manage.WithActions())
	if err != nil {
		panic(err)
	}
	defer ep.Close()

	peer, _ := net.Dial("tcp", srv.Addr().String())
	defer peer.Close()
	fmt.Fprintf(peer, "hello\n")
	_, _ = peer.Read(make([]byte, 6))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := manage.Dial(ctx, node, node.Address())
	if err != nil {
		panic(err)
	}
	servers, _ := c.Servers(ctx)
	fmt.Println(servers[0].Name, servers[0].Mode, servers[0].Active)
	list, _ := c.Conns(ctx, manage.Query{Sort: manage.SortBytes, Limit: 10})
	reply, err := c.Call(ctx, list.Conns[0].Ref(), "ping")
	fmt.Println(reply.Value, err)
	d, _ := c.Inspect(ctx, list.Conns[0].Ref()) // after the call: the echo's write is counted
	fmt.Println(d.Conn.Handle(), d.Conn.State, d.Conn.BytesIn, d.Conn.BytesOut, d.StateType)
	// Output:
	// echo accepting 1
	// string ping <nil>
	// echo/1 up 6 6 manage_test.echo
}
