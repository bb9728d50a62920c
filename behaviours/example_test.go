package behaviours_test

import (
	"errors"
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
	r := behaviours.Send([]byte("hello ")).Send([]byte("world")).Timeout(5 * time.Second)

	_ = r.Packets(func(p []byte) error {
		fmt.Printf("send %q\n", p)
		return nil
	})
	d, ok := r.TimeoutValue()
	fmt.Println("timeout", d, ok)
	// Output:
	// send "hello "
	// send "world"
	// timeout 5s true
}

// Base answers a call it does not handle at once, with an error.
func ExampleBase() {
	var h behaviours.Handler = echo{}
	r := h.HandleCall(nil, "status?", behaviours.From{})
	v, _ := r.ReplyValue()
	fmt.Println(errors.Is(v.(error), behaviours.ErrUnhandledCall))
	fmt.Println(v)

	r = h.HandlePacket(nil, []byte("ping"))
	_ = r.Packets(func(p []byte) error { fmt.Printf("echo %s\n", p); return nil })
	// Output:
	// true
	// etcp: unhandled call: string
	// echo ping
}
