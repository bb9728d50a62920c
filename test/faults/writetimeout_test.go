package faults_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// readSteadily reads n bytes from c, chunk bytes every pause, and sends
// what it read (or the error) on the returned channel.
func readSteadily(c net.Conn, n, chunk int, pause time.Duration) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		got := make([]byte, 0, n)
		buf := make([]byte, chunk)
		for len(got) < n {
			k, err := io.ReadFull(c, buf[:min(chunk, n-len(got))])
			got = append(got, buf[:k]...)
			if err != nil {
				break
			}
			time.Sleep(pause) // a slow peer, not a synchronisation
		}
		out <- got
	}()
	return out
}

// Defect 5: the write timeout bounds a stall, not a long write to a peer
// that reads steadily.
func TestWriteTimeoutMeansNoProgress(t *testing.T) {
	const wt = 300 * time.Millisecond
	const size = 8 << 20
	sock := actors.WithSocket(transport.WithWriteTimeout(wt), smallSocket())

	t.Run("SendSync to a steady reader", func(t *testing.T) {
		sys := testkit.NewSystem(t)
		peers := listenPeer(t)
		p := newProbe()
		pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, sock)
		peer := peers.accept()
		data := randomBytes(size, 1)
		got := readSteadily(peer, size, 64<<10, 10*time.Millisecond)
		took := within(func() { require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, data)) })
		require.True(t, bytes.Equal(data, testkit.Recv(t, got)), "all 8 MiB delivered byte-exact")
		require.Greater(t, took, 3*wt, "the send outlasted the write timeout several times over (else the test proves nothing)")
		require.Zero(t, p.nTerm.Load(), "the connection is still up")
		require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte("more")))
		require.Equal(t, "more", string(testkit.ReadN(t, peer, 4)))
	})

	t.Run("handler Send to a steady reader", func(t *testing.T) {
		sys := testkit.NewSystem(t)
		data := randomBytes(size, 2)
		p := newProbe()
		p.packet = func(behaviours.Conn, []byte) behaviours.Result { return behaviours.Send(data) }
		srv := testkit.StartServer(t, sys, "", newHandler, p, sock)
		peer := dialSmall(t, srv.Addr().String())
		var got []byte
		took := within(func() {
			testkit.Write(t, peer, "go")
			got = testkit.Recv(t, readSteadily(peer, size, 64<<10, 10*time.Millisecond))
		})
		require.True(t, bytes.Equal(data, got), "all 8 MiB delivered byte-exact")
		require.Greater(t, took, 3*wt, "the write outlasted the write timeout several times over")
		require.Zero(t, p.nTerm.Load(), "the connection is still up")
		testkit.Write(t, peer, "again")
		require.True(t, bytes.Equal(data[:1<<10], testkit.ReadN(t, peer, 1<<10)))
	})

	t.Run("a peer that stops reading", func(t *testing.T) {
		sys := testkit.NewSystem(t)
		peers := listenPeer(t)
		p := newProbe()
		pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, sock)
		peer := peers.accept()
		// The peer reads 1 MiB steadily, then stops.
		first := readSteadily(peer, 1<<20, 64<<10, 20*time.Millisecond)
		err := client.SendSync(testkit.Ctx(t), sys.Root, pid, randomBytes(size, 3))
		require.ErrorIs(t, err, actors.ErrWriteTimeout)
		require.Len(t, testkit.Recv(t, first), 1<<20)
		tm := p.terminated(t)
		require.ErrorIs(t, tm.reason, actors.ErrWriteTimeout)
		requireReset(t, peer)
		_, err = client.Call(testkit.Ctx(t), sys.Root, pid, "x")
		require.ErrorIs(t, err, actors.ErrClosed)
		p.requireOnce(t, 1)
	})
}
