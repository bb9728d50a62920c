package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
)

// echo sends every packet back.
type echo struct{ behaviours.Base }

func (echo) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

// forward passes every packet it receives to the channel it was given
// as its init argument.
type forward struct {
	behaviours.Base
	out chan<- string
}

func (f *forward) Init(_ behaviours.Conn, arg any) behaviours.Result {
	f.out = arg.(chan string)
	return behaviours.Continue()
}

func (f *forward) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	f.out <- string(p)
	return behaviours.Continue()
}

func newSystem() *actor.ActorSystem {
	return actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond))
}

func ExampleStart() {
	sys := newSystem()
	defer sys.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv, err := server.Start(sys, func() behaviours.Handler { return echo{} }, nil, "127.0.0.1:0",
		server.WithAcceptors(2), actors.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop(ctx, nil)

	// A client connection whose handler passes on what it reads.
	got := make(chan string, 1)
	pid, err := client.Dial(ctx, sys.Root, srv.Addr().String(), func() behaviours.Handler { return &forward{} }, got)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := client.SendSync(ctx, sys.Root, pid, []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-got)
	fmt.Println(client.Stop(ctx, sys.Root, pid, nil))
	// Output:
	// hello
	// <nil>
}

func ExampleServer_Sleep() {
	sys := newSystem()
	defer sys.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv, err := server.Start(sys, func() behaviours.Handler { return echo{} }, nil, "127.0.0.1:0",
		server.WithStartAsleep(), actors.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop(ctx, nil)
	mode, uniform := srv.Mode()
	fmt.Println(mode, uniform, len(srv.Acceptors()))

	_ = srv.Wake(ctx)
	mode, _ = srv.Mode()
	fmt.Println(mode)

	_ = srv.Sleep(ctx) // open connections would be untouched
	mode, _ = srv.Mode()
	fmt.Println(mode)
	// Output:
	// sleeping true 10
	// accepting
	// sleeping
}
