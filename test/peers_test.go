package test

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// flooder echoes, and answers "flood" with more than any socket buffer holds.
type flooder struct{ base }

func (h *flooder) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	if string(p) == "flood" {
		return behaviours.Send(make([]byte, 64<<20))
	}
	return behaviours.Send([]byte(string(p)))
}

// A peer that stops reading cannot hold a connection forever: the write
// timeout ends that connection with a timeout error, and the others keep
// answering meanwhile.
func TestPeerThatNeverReads(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &flooder{} }, p,
		actors.WithSocket(transport.WithWriteTimeout(300*time.Millisecond),
			transport.WithSocketOptions(transport.SocketOptions{NoDelay: true, WriteBuffer: 64 << 10})))
	stuck := testkit.DialRaw(t, "tcp", srv.Addr().String())
	other := testkit.DialRaw(t, "tcp", srv.Addr().String())
	p.expect(t, "init")
	p.expect(t, "init")

	start := time.Now()
	testkit.Write(t, stuck, "flood") // and never read
	roundTrip(t, other, "still answering")

	reason := p.terminated(t)
	var ne net.Error
	require.True(t, errors.As(reason, &ne) && ne.Timeout(), "want a write timeout, got %v", reason)
	require.Less(t, time.Since(start), 5*time.Second)
	roundTrip(t, other, "and after")
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 1 }, testkit.Wait, time.Millisecond)
}

// A peer that vanishes with a reset ends its connection with that error,
// not as a normal disconnect.
func TestPeerReset(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newEcho, p)
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	p.expect(t, "init")
	roundTrip(t, c, "hi")

	require.NoError(t, c.(*net.TCPConn).SetLinger(0)) // close sends RST
	require.NoError(t, c.Close())
	reason := p.terminated(t)
	require.ErrorIs(t, reason, syscall.ECONNRESET)
}

// byer says goodbye when the peer half-closes.
type byer struct{ base }

func (h *byer) HandleDisconnect(behaviours.Conn) behaviours.Result {
	return behaviours.Send([]byte("bye"))
}

// After the peer's half-close the handler can still send: the peer reads
// the goodbye, then EOF, and Terminate sees a normal end.
func TestPeerHalfClose(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &byer{} }, p)
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	p.expect(t, "init")

	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "bye", string(got))
	require.NoError(t, p.terminated(t))
}
