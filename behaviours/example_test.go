package behaviours_test

import (
	"fmt"
	"time"

	"github.com/etcp-go/etcp/behaviours"
)

// echo is the smallest useful handler: Base gives every other callback.
type echo struct{ behaviours.Base }

func (echo) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

// A Result chains actions: here two packets, in order, then an idle
// timeout.
func ExampleResult() {
	var h behaviours.Handler = chatty{}
	_ = h.HandlePacket(nil, []byte("hi"))
}

// chatty answers every packet with two, then waits at most five seconds
// for the next.
type chatty struct{ behaviours.Base }

func (chatty) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send([]byte("hello ")).Send([]byte("world")).Timeout(5 * time.Second)
}

// Base gives every callback a handler does not write: here HandleCall,
// which answers with an error wrapping ErrUnhandledCall.
func ExampleBase() {
	var h behaviours.Handler = echo{}
	_ = h.HandleCall(nil, "status?", behaviours.From{})
	fmt.Println(behaviours.ErrUnhandledCall)
	// Output: etcp: unhandled call
}
