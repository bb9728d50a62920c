package actors_test

import (
	"errors"
	"fmt"

	"github.com/etcp-go/etcp/actors"
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
