package test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// The event loop (actors.WithEventLoop) over real sockets. The other
// suites run in this mode too when ETCP_TEST_EVENT_LOOP=1 (.ci/run does).

// bulkLen is what a "big" line is answered with: far more than the
// kernel's socket buffers hold, so a peer that does not read blocks the
// write.
const bulkLen = 32 << 20

// bulky echoes lines, and answers "big" with a line of bulkLen bytes.
type bulky struct{ behaviours.Base }

func (bulky) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	if string(p) == "big" {
		return behaviours.Send(bytes.Repeat([]byte("x"), bulkLen))
	}
	return behaviours.Send(p)
}

func loopServer(t *testing.T, opts ...actors.Option) net.Addr {
	sys := testkit.NewSystem(t)
	opts = append([]actors.Option{actors.WithEventLoop(0), actors.WithSocket(transport.WithFramer(transport.Line()))}, opts...)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return bulky{} }, nil, opts...)
	return srv.Addr()
}

// Connections on the event loop hold no goroutine, even while they
// exchange and with idle parking off (ParkAfter negative keeps a reader
// goroutine per connection in the default mode): after each message the
// socket goes back to the poller. Every line is answered in order.
func TestEventLoopHoldsNoGoroutinePerConnection(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return bulky{} }, nil,
		actors.WithEventLoop(0), actors.WithParkAfter(-1), actors.WithSocket(transport.WithFramer(transport.Line())))
	const conns, rounds = 100, 5
	base := runtime.NumGoroutine()
	peers := make([]net.Conn, conns)
	readers := make([]*bufio.Reader, conns)
	for i := range peers {
		peers[i] = testkit.DialRaw(t, "tcp", srv.Addr().String())
		readers[i] = bufio.NewReader(peers[i])
	}
	for r := range rounds {
		for i, p := range peers { // all lines out, then all answers in: the loop serves many per wake-up
			testkit.Write(t, p, strings.Repeat("ab", i+r)+"\n")
		}
		for i := range peers {
			require.Equal(t, strings.Repeat("ab", i+r), testkit.ReadLine(t, readers[i]))
		}
	}
	require.Eventually(t, func() bool { return srv.Info().Conns.Parked == conns }, testkit.Wait, time.Millisecond,
		"every connection back on the poller")
	assert.Zero(t, srv.Info().Conns.Reading)
	assert.Less(t, runtime.NumGoroutine()-base, conns/4, "goroutines grew with the connections")
}

// A peer that does not read blocks the server's write to it; the loop
// hands itself off and goes on serving every other connection. Once the
// peer reads, it gets every byte, and its connection serves on.
func TestEventLoopSlowPeerDoesNotStallOthers(t *testing.T) {
	addr := loopServer(t).String()
	const slow = 4
	stuck := make([]net.Conn, slow)
	for i := range stuck {
		stuck[i] = testkit.DialRaw(t, "tcp", addr)
		testkit.Write(t, stuck[i], "big\n") // and read nothing yet
	}
	fast := testkit.DialRaw(t, "tcp", addr)
	r := bufio.NewReader(fast)
	for i := range 50 {
		line := strings.Repeat("z", i)
		testkit.Write(t, fast, line+"\n")
		require.Equal(t, line, testkit.ReadLine(t, r), "a blocked write stalled another connection")
	}
	var wg sync.WaitGroup
	for _, c := range stuck {
		wg.Go(func() {
			n, err := io.CopyN(io.Discard, c, bulkLen+1) // and its LF
			assert.NoError(t, err)
			assert.EqualValues(t, bulkLen+1, n)
		})
	}
	wg.Wait()
	for _, c := range stuck {
		roundTrip(t, c, "after\n")
	}
}

// A connection on the event loop reports its addresses and transport,
// and its socket options can be read and changed from a callback.
func TestEventLoopConnInfoAndOptions(t *testing.T) {
	sys := testkit.NewSystem(t)
	got := make(chan transport.SocketOptions, 1)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &optioner{got: got} }, nil,
		actors.WithEventLoop(0), actors.WithSocket(transport.WithFramer(transport.Line())))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, c, "set\n")
	opts := testkit.Recv(t, got)
	assert.False(t, opts.NoDelay)
	assert.Equal(t, 7*time.Second, opts.KeepAlive)
	conns := testkit.Conns(t, srv)
	require.Len(t, conns, 1)
	assert.Equal(t, c.LocalAddr().String(), conns[0].Peer.String())
	assert.Equal(t, srv.Addr().String(), conns[0].Local.String())
	assert.Equal(t, "tcp", conns[0].Transport)
}

// optioner changes its socket's options on the first line and reports
// what it reads back.
type optioner struct {
	behaviours.Base
	got chan transport.SocketOptions
}

func (o *optioner) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	if err := c.SetSocketOptions(transport.SocketOptions{NoDelay: false, KeepAlive: 7e9}); err != nil {
		return behaviours.Stop(err)
	}
	s, err := c.SocketOptions()
	if err != nil {
		return behaviours.Stop(err)
	}
	o.got <- s
	return behaviours.Send(p)
}
