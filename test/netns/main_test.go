// Package netns runs etcp nodes with mutual TLS on non-loopback
// addresses, each a separate OS process in a network namespace of its
// own, with addresses of the benchmarking range 198.18.0.0/15: two
// joined by a veth pair, and three on a bridge, one of which is cut off
// and joined again (partition_test.go). It needs root and iproute2
// (ip); it skips without them. Nothing leaves the machine: the
// namespaces have no route but their veth pairs.
package netns

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	serveChild(children) // a child exits here
	goleak.VerifyTestMain(m)
}
