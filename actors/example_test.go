package actors_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

// A TraceLog keeps the last N events of the connections it traces, like
// Erlang's sys:log. Give it to actors.WithTracer or client.Trace.
func ExampleTraceLog() {
	log := actors.NewTraceLog(3)
	log.Trace(actors.TraceEvent{Conn: 1, Kind: actors.TraceMessageIn, Message: "hello"})
	log.Trace(actors.TraceEvent{Conn: 1, Kind: actors.TracePacketIn, Data: []byte("ping")})
	log.Trace(actors.TraceEvent{Conn: 1, Kind: actors.TraceResult, Callback: "HandlePacket", Message: "send(1)"})
	log.Trace(actors.TraceEvent{Conn: 1, Kind: actors.TracePacketOut, Data: []byte("pong")})

	for _, ev := range log.Events() { // the oldest was dropped
		fmt.Printf("%v callback=%q data=%q\n", ev.Kind, ev.Callback, ev.Data)
	}
	// Output:
	// packet-in callback="" data="ping"
	// result callback="HandlePacket" data=""
	// packet-out callback="" data="pong"
}

// A connection ended by a panicking callback reports which one.
func ExampleCallbackError() {
	var reason error = &actors.CallbackError{Callback: "HandleCast", Cause: "index out of range", Stack: []byte("...")}

	var ce *actors.CallbackError
	if errors.As(reason, &ce) {
		fmt.Println(ce.Callback)
	}
	fmt.Println(errors.Is(reason, actors.ErrCallbackPanic))
	fmt.Println(reason)
	// Output:
	// HandleCast
	// true
	// etcp: HandleCast panicked: index out of range
}

// An owner's connections served by one event loop, as Redis serves its
// clients: the handler is the same as in the default mode, and must not
// block in its callbacks.
func ExampleWithEventLoop() {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	defer sys.Shutdown()
	srv, err := server.Start(sys, func() behaviours.Handler { return upper{} }, nil, "127.0.0.1:0",
		actors.WithEventLoop(1), actors.WithSocket(transport.WithFramer(transport.Line())))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop(context.Background(), nil)

	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, line := range []string{"hello", "event loop"} {
		fmt.Fprintln(c, line)
		reply, _ := r.ReadString('\n')
		fmt.Print(reply)
	}
	// Output:
	// HELLO
	// EVENT LOOP
}

// upper answers every line in upper case.
type upper struct{ behaviours.Base }

func (upper) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(bytes.ToUpper(p))
}
