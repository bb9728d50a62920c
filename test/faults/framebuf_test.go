package faults_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
)

// Defect 12: a buffer grown for a large frame does not stay grown. 200
// connections each receive one 1 MiB frame, then stay idle with half of
// a small frame pending: the heap is far below the 200 MiB the grown
// buffers would hold.
func TestFrameBufferDoesNotStayGrown(t *testing.T) {
	const conns = 200
	sys := testkit.NewSystem(t)
	p := newProbe()
	p.packet = func(_ behaviours.Conn, pk []byte) behaviours.Result {
		return behaviours.Send([]byte{byte(len(pk) >> 20)}) // 1 for a MiB
	}
	srv := testkit.StartServer(t, sys, "", newHandler, p, length4())
	base := heapAfterGC()

	big := frame(make([]byte, 1<<20))
	half := frame(make([]byte, 100))[:54] // a 100-byte frame's header and 50 of its bytes
	peers := make([]net.Conn, conns)
	for i := range peers {
		peers[i] = testkit.DialRaw(t, "tcp", srv.Addr().String())
		// The frame and the start of the next in one write: the read that
		// completes the large frame takes some of the small one with it.
		_, err := peers[i].Write(append(append([]byte(nil), big...), half...))
		require.NoError(t, err)
		require.Equal(t, frame([]byte{1}), testkit.ReadN(t, peers[i], 5), "the 1 MiB frame arrived")
	}
	require.Eventually(t, func() bool { return srv.Info().Conns.Up == conns }, testkit.Wait, tick)
	heap := heapAfterGC()
	t.Logf("heap: %d KiB before, %d KiB with %d connections idle after a 1 MiB frame", base>>10, heap>>10, conns)
	require.Less(t, heap, base+32<<20, "far below the %d MiB of grown buffers", conns)

	// The pending halves are kept: finishing them delivers the frames.
	for _, c := range peers {
		require.NoError(t, c.SetDeadline(time.Now().Add(testkit.Wait)))
		_, err := c.Write(make([]byte, 50))
		require.NoError(t, err)
		require.Equal(t, frame([]byte{0}), testkit.ReadN(t, c, 5))
	}
	require.Zero(t, p.nTerm.Load())
}
