package faults_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
)

// Defect 6: the outbound queue is bounded.
func TestWriteQueueOverflow(t *testing.T) {
	t.Run("a burst to a peer that does not read", func(t *testing.T) {
		sys := testkit.NewSystem(t)
		peers := listenPeer(t)
		p := newProbe()
		pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, actors.WithSocket(smallSocket()))
		peer := peers.accept()
		base := heapAfterGC()
		var peak uint64
		for i := range 3000 {
			client.SendAsync(sys.Root, pid, make([]byte, 64<<10)) // 192 MB in all
			if i%500 == 499 {
				peak = max(peak, heapAfterGC())
			}
		}
		tm := p.terminated(t)
		require.ErrorIs(t, tm.reason, actors.ErrOverflow)
		peak = max(peak, heapAfterGC())
		t.Logf("heap: %d MB before, %d MB at most during (192 MB sent)", base>>20, peak>>20)
		require.Less(t, peak, base+48<<20, "the heap stays bounded: refused sends are not kept")
		requireReset(t, peer)
		p.requireOnce(t, 1)
	})

	t.Run("while a write is stalled", func(t *testing.T) {
		// The sends come slowly enough that the actor keeps up until its
		// write to the peer stalls; the queue then fills behind the
		// stalled write. Going over the cap must end the connection then,
		// not when the (default, 30 s) write timeout passes.
		sys := testkit.NewSystem(t)
		peers := listenPeer(t)
		p := newProbe()
		pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, actors.WithSocket(smallSocket()))
		peer := peers.accept()
		chunk := make([]byte, 64<<10)
		sent := 0
		for ; sent < 3000 && p.nTerm.Load() == 0; sent++ {
			client.SendAsync(sys.Root, pid, chunk)
			time.Sleep(200 * time.Microsecond) // pacing, not synchronisation
		}
		tm := p.terminated(t)
		require.ErrorIs(t, tm.reason, actors.ErrOverflow, "after %d sends", sent)
		requireReset(t, peer)
	})
}
