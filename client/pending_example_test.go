package client_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

// shout answers every line in upper case.
type shout struct{ behaviours.Base }

func (shout) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send([]byte(strings.ToUpper(string(p))))
}

// lineClient is the client side of a request/response line protocol:
// every call is a line out, every line in answers the oldest call.
type lineClient struct {
	behaviours.Base
	pending client.Pending
}

func (l *lineClient) HandleCall(_ behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	l.pending.Add(from)
	return behaviours.Send([]byte(req.(string)))
}

func (l *lineClient) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return l.pending.Reply(string(p))
}

func (l *lineClient) Terminate(c behaviours.Conn, reason error) error {
	l.pending.Fail(c, reason) // their responses will not come
	return reason
}

func ExamplePending() {
	sys := actors.NewSystem(nil, actor.WithDeadLetterThrottleInterval(time.Millisecond))
	defer sys.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lines := actors.WithSocket(transport.WithFramer(transport.Line()))

	srv, err := server.Start(sys, func() behaviours.Handler { return shout{} }, nil, "127.0.0.1:0", lines)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop(ctx, nil)
	pid, err := client.Dial(ctx, sys.Root, srv.Addr().String(), func() behaviours.Handler { return &lineClient{} }, nil, lines)
	if err != nil {
		fmt.Println(err)
		return
	}

	s, err := client.CallAs[string](ctx, sys.Root, pid, "hello")
	fmt.Printf("%q %v\n", s, err)
	_, err = client.CallAs[int](ctx, sys.Root, pid, "a number?")
	fmt.Println(err)
	fmt.Println(client.Stop(ctx, sys.Root, pid, nil))
	// Output:
	// "HELLO" <nil>
	// etcp/client: reply of another type: got string, want int
	// <nil>
}
