package registry_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
)

// A node whose seed does not answer as a node (here: something that
// accepts and hangs up at once) shuts down at once. The seed is greeted
// only when a probe finds a node listening, so no protoactor writer sits
// in its connect retries (five, two seconds apart), which the node's
// shutdown would wait for: a cluster whose members stopped one after the
// other took up to ten seconds to exit.
func TestShutdownWithASeedDown(t *testing.T) {
	if alone(t) { // its node must be the only remote of its process
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var dials atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close()
		}
	}()

	node, err := registry.StartNode(newSystem())
	require.NoError(t, err)
	cl, err := registry.NewCluster(node, []string{l.Addr().String()},
		registry.WithHeartbeat(20*time.Millisecond, 200*time.Millisecond))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return dials.Load() >= 3 }, 20*time.Second, time.Millisecond,
		"the seed tried at start and twice more")

	done := make(chan struct{})
	go func() {
		_ = cl.Close()
		node.Shutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the node still shutting down 2 s later: something waits on the seed that never answered")
	}
}
