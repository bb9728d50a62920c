package pool_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	etcpclient "github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

// lineEcho is a server handler that sends every line back.
type lineEcho struct{ behaviours.Base }

func (lineEcho) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

// asker turns each call into a line and answers it when the line comes
// back: callers wait in a client.Pending (imported as etcpclient here), as with any request/response
// protocol.
type asker struct {
	behaviours.Base
	waiting etcpclient.Pending
}

func (a *asker) HandleCall(_ behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	a.waiting.Add(from)
	return behaviours.Send([]byte(req.(string)))
}

func (a *asker) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return a.waiting.Reply(string(p))
}

func (a *asker) Terminate(c behaviours.Conn, reason error) error {
	a.waiting.Fail(c, reason)
	return reason
}

func Example() {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}), actor.WithDeadLetterThrottleInterval(time.Millisecond))
	lines := transport.WithFramer(transport.Line())
	srv, err := server.Start(sys, func() behaviours.Handler { return lineEcho{} }, nil, "127.0.0.1:0",
		actors.WithSocket(lines))
	if err != nil {
		panic(err)
	}
	defer srv.Stop(context.Background(), nil)

	addr := srv.Addr().String()
	p, err := pool.Start(sys, func() behaviours.Handler { return &asker{} }, nil, []string{addr, addr},
		actors.WithSocket(lines), pool.WithWaitForConnection(3*time.Second))
	if err != nil {
		panic(err)
	}
	defer p.Stop(context.Background(), nil)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, q := range []string{"hello", "world"} {
		reply, err := etcpclient.As[string](p.Call(ctx, q)) // the reply, typed
		fmt.Println(reply, err)
	}
	if err := p.WaitUp(ctx, 2); err != nil {
		panic(err)
	}
	for _, c := range p.Connections() {
		fmt.Println(c.ID, c.State)
	}
	// Output:
	// hello <nil>
	// world <nil>
	// 1 up
	// 2 up
}
