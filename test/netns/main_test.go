// Package netns runs two etcp nodes with mutual TLS on non-loopback
// addresses: each in a network namespace of its own, joined by a veth
// pair with addresses of the benchmarking range 198.18.0.0/15, as
// separate OS processes. It needs root and iproute2 (ip); it skips
// without them. Nothing leaves the machine: the namespaces have no route
// but their veth pair.
package netns

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	serveChild(children) // a child exits here
	goleak.VerifyTestMain(m)
}
