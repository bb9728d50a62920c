package transporttest_test

import (
	"bytes"
	"fmt"

	"github.com/etcp-go/etcp/transport"
	"github.com/etcp-go/etcp/transport/transporttest"
)

// A Resumer fed three bytes at a time finds what Decode finds.
func ExampleFeed() {
	stream := []byte("hello\nresumed\r\nworld\npartial")
	three := func(n int) int { return min(n, 3) }
	resumed := transporttest.Feed(transport.Line(), stream, 64, three, true)
	rescanned := transporttest.Feed(transport.Line(), stream, 64, three, false)
	fmt.Printf("%q %q %v\n", resumed.Frames, resumed.Rest, resumed.Err)
	fmt.Println(bytes.Equal(bytes.Join(resumed.Frames, nil), bytes.Join(rescanned.Frames, nil)))
	// Output:
	// ["hello" "resumed" "world"] "partial" <nil>
	// true
}
