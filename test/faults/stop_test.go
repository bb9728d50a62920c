package faults_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// stopSlack is what Stop may take beyond its grace: the interrupted
// connections' Terminate and the goroutines' exit, on a loaded machine
// under -race. Before the fix a stop took the write or handshake timeout
// (30 s, 5 s).
const stopSlack = 1500 * time.Millisecond

// awaitStall waits until n stops changing for quiet while the server
// has its one connection: a peer that reads nothing has filled the
// connection's write queue, and back-pressure stopped its reads.
func awaitStall(t testing.TB, srv *server.Server, n *atomic.Int64, quiet time.Duration) {
	t.Helper()
	last, since := int64(-1), time.Now()
	require.Eventually(t, func() bool {
		if v := n.Load(); v != last || srv.Info().Conns.Up != 1 {
			last, since = v, time.Now()
			return false
		}
		return last > 0 && time.Since(since) >= quiet
	}, testkit.Wait, tick)
}

// Defect 1: a peer that sends 7 MB to an echo server and never reads
// blocks the connection's write; Stop returns within its grace (the
// default, or WithStopGrace's) plus a little all the same, and Terminate
// runs once.
func TestStopNotHeldByAPeerThatDoesNotRead(t *testing.T) {
	for _, grace := range []time.Duration{0, 200 * time.Millisecond} {
		name := "default grace"
		if grace > 0 {
			name = fmt.Sprintf("grace %v", grace)
		}
		t.Run(name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			p := newProbe()
			var echoed atomic.Int64
			p.packet = func(_ behaviours.Conn, pk []byte) behaviours.Result {
				echoed.Add(int64(len(pk)))
				return behaviours.Send(bytes.Clone(pk))
			}
			var opts []server.Option
			if grace > 0 {
				opts = append(opts, server.WithStopGrace(grace))
			} else {
				grace = server.DefaultStopGrace
			}
			srv := testkit.StartServer(t, sys, "", newHandler, p, opts...)
			peer := dialSmall(t, srv.Addr().String())
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				chunk := make([]byte, 64<<10)
				for range (7 << 20) / len(chunk) {
					if _, err := peer.Write(chunk); err != nil {
						return
					}
				}
			}()
			awaitStall(t, srv, &echoed, 500*time.Millisecond)

			took := within(func() { require.NoError(t, srv.Stop(testkit.Ctx(t), nil)) })
			t.Logf("stop took %v (grace %v, echoed %d KiB)", took, grace, echoed.Load()>>10)
			require.Less(t, took, grace+stopSlack)
			require.GreaterOrEqual(t, took, grace*9/10, "the blocked write had its grace")
			require.ErrorIs(t, p.terminated(t).reason, actors.ErrShutdown)
			p.requireOnce(t, 1)
			select {
			case <-srv.Done():
			default:
				t.Fatal("Done is not closed")
			}
			_, err := io.Copy(io.Discard, peer)
			require.False(t, isTimeout(err), "the peer sees its connection end: %v", err)
			testkit.Recv(t, wrote)
			require.Never(t, func() bool { return p.nTerm.Load() != 1 }, 50*time.Millisecond, tick)
		})
	}
}

// Defect 1: 200 TLS peers that connect and never finish their handshake
// (silent, or a ClientHello cut short) do not hold Stop up: it took the
// handshake timeout (4.7 s) before.
func TestStopNotHeldByTLSHandshakes(t *testing.T) {
	sys := testkit.NewSystem(t)
	cert, err := transport.SelfSigned()
	require.NoError(t, err)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p,
		actors.WithSocket(transport.WithTransport(transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))))
	const peers = 200
	conns := make([]net.Conn, peers)
	for i := range conns {
		conns[i] = testkit.DialRaw(t, "tcp", srv.Addr().String())
		if i%2 == 1 { // a handshake record announcing 512 bytes, of which 3 come
			testkit.Write(t, conns[i], "\x16\x03\x01\x02\x00\x01\x00\x01")
		}
	}
	require.Eventually(t, func() bool { return srv.Info().Accepted == peers }, testkit.Wait, tick)

	took := within(func() { require.NoError(t, srv.Stop(testkit.Ctx(t), nil)) })
	t.Logf("stop took %v", took)
	require.Less(t, took, server.DefaultStopGrace+stopSlack)
	info := srv.Info()
	require.EqualValues(t, peers, info.Terminated, "every connection ended: %+v", info)
	require.Zero(t, info.Active)
	require.Zero(t, p.nInit.Load(), "no handshake completed, no Init ran")
	for _, c := range conns {
		_, err := c.Read(make([]byte, 1))
		require.Error(t, err, "the peer sees its connection end")
	}
}
