package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
)

// upper answers every packet in upper case.
type upper struct{ behaviours.Base }

func (upper) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send([]byte(strings.ToUpper(string(p))))
}

// asker turns a call into a request on the wire and answers the call when
// the response comes back: a reply sent later, from HandlePacket.
type asker struct {
	behaviours.Base
	waiting behaviours.From
}

func (a *asker) HandleCall(_ behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	a.waiting = from
	return behaviours.Send([]byte(req.(string)))
}

func (a *asker) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	from := a.waiting
	a.waiting = behaviours.From{} // ReplyTo an empty From sends nothing
	return behaviours.ReplyTo(from, string(p))
}

func ExampleDial() {
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond))
	defer sys.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	srv, err := server.Start(sys, func() behaviours.Handler { return upper{} }, nil, "127.0.0.1:0",
		server.WithAcceptors(1), actors.WithLogger(quiet))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop(ctx, nil)

	pid, err := client.Dial(ctx, sys.Root, srv.Addr().String(), func() behaviours.Handler { return &asker{} }, nil,
		actors.WithLogger(quiet))
	if err != nil {
		fmt.Println(err)
		return
	}
	reply, err := client.Call(ctx, sys.Root, pid, "hello, server")
	fmt.Println(reply, err)

	// The same functions work on a connection the server accepted.
	conns, _ := srv.Connections()
	for _, c := range conns {
		fmt.Println(client.SendSync(ctx, sys.Root, c.PID, []byte("from the server side")))
	}
	fmt.Println(client.Stop(ctx, sys.Root, pid, nil))
	// Output:
	// HELLO, SERVER <nil>
	// <nil>
	// <nil>
}
