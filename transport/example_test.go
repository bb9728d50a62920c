package transport_test

import (
	"fmt"

	"github.com/etcp-go/etcp/transport"
)

// Length(2) is Erlang's {packet, 2}: a big-endian 16-bit length, then the
// payload.
func ExampleLength() {
	f := transport.Length(2)
	wire, err := f.Encode(nil, []byte("hello"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", wire)

	frame, n, err := f.Decode(wire, transport.DefaultMaxFrame)
	fmt.Printf("%q %d %v\n", frame, n, err)

	_, _, err = f.Decode(wire, 4)
	fmt.Println(err)
	// Output:
	// 00 05 68 65 6c 6c 6f
	// "hello" 7 <nil>
	// etcp/transport: frame too large: header announces 5 bytes, max is 4
}

// Line accepts LF and CRLF endings; n == 0 means more bytes are needed.
func ExampleLine() {
	f := transport.Line()
	buf := []byte("HELO there\r\nQU")
	for {
		frame, n, err := f.Decode(buf, 512)
		if err != nil || n == 0 {
			fmt.Printf("waiting, %q buffered\n", buf)
			break
		}
		fmt.Printf("line %q\n", frame)
		buf = buf[n:]
	}
	// Output:
	// line "HELO there"
	// waiting, "QU" buffered
}

func ExampleParseFramer() {
	f, err := transport.ParseFramer("4")
	fmt.Println(f.Name(), err)
	_, err = transport.ParseFramer("5")
	fmt.Println(err)
	// Output:
	// 4 <nil>
	// etcp: invalid options: unknown framing "5" (want raw, line, 1, 2 or 4)
}
