package transports_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// seenLine is what a STARTTLS handler saw with one line.
type seenLine struct {
	pid       *actor.PID
	count     int
	line      string
	transport string
	tls       *tls.ConnectionState
}

// starttlsServer answers "STARTTLS" with "OK" and upgrades; it echoes
// every other line prefixed with its count (its state), the transport.
type starttlsServer struct {
	behaviours.Base
	cfg   *tls.Config
	seen  chan<- seenLine
	count int
}

func (h *starttlsServer) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	h.count++
	h.seen <- seenLine{c.Self(), h.count, string(p), c.Transport(), c.TLS()}
	if string(p) == "STARTTLS" {
		return behaviours.Send([]byte("OK")).StartTLS(h.cfg)
	}
	return behaviours.Send(fmt.Appendf(nil, "%d %s %s", h.count, c.Transport(), p))
}

// startStartTLS starts a line server of starttlsServer handlers with a
// self-signed certificate; seen gets what they see.
func startStartTLS(t *testing.T) (*actor.ActorSystem, tls.Certificate, chan seenLine, *server.Server) {
	t.Helper()
	sys := testkit.NewSystem(t)
	cert := selfSigned(t)
	seen := make(chan seenLine, 16)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler {
		return &starttlsServer{cfg: &tls.Config{Certificates: []tls.Certificate{cert}}, seen: seen}
	}, nil, actors.WithSocket(transport.WithFramer(transport.Line())))
	return sys, cert, seen, srv
}

func TestStartTLSServer(t *testing.T) {
	_, cert, seen, srv := startStartTLS(t)

	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	r := bufio.NewReader(raw)
	_, err := raw.Write([]byte("hello\n"))
	require.NoError(t, err)
	assert.Equal(t, "1 tcp hello", testkit.ReadLine(t, r))
	before := testkit.Recv(t, seen)
	assert.Equal(t, "tcp", before.transport)
	assert.Nil(t, before.tls)

	_, err = raw.Write([]byte("STARTTLS\n"))
	require.NoError(t, err)
	require.Equal(t, "OK", testkit.ReadLine(t, r))
	require.Zero(t, r.Buffered(), "nothing in clear after OK")
	assert.Equal(t, 2, testkit.Recv(t, seen).count)

	conn := tls.Client(raw, &tls.Config{RootCAs: certPool(cert.Leaf), ServerName: "127.0.0.1"})
	require.NoError(t, conn.HandshakeContext(testkit.Ctx(t)))
	tr := bufio.NewReader(conn)
	for i, line := range []string{"secret", "still secret"} {
		_, err = conn.Write([]byte(line + "\r\n"))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("%d tls %s", i+3, line), testkit.ReadLine(t, tr))
		after := testkit.Recv(t, seen)
		assert.Equal(t, before.pid, after.pid, "the same actor")
		assert.Equal(t, i+3, after.count, "the handler's state carried over")
		assert.Equal(t, "tls", after.transport)
		require.NotNil(t, after.tls)
		assert.True(t, after.tls.HandshakeComplete)
		assert.Equal(t, conn.ConnectionState().CipherSuite, after.tls.CipherSuite)
	}
	require.Len(t, testkit.Conns(t, srv), 1)
	assert.Equal(t, "tls", testkit.Conns(t, srv)[0].Transport, "the listing shows the transport now in use")
}

// starttlsClient asks for STARTTLS from Init and upgrades, as a TLS
// client, when the server says OK; then every packet goes to packets.
type starttlsClient struct {
	behaviours.Base
	cfg     *tls.Config
	packets chan<- string
	pids    chan<- *actor.PID
	count   int
}

func (h *starttlsClient) Init(c behaviours.Conn, _ any) behaviours.Result {
	h.pids <- c.Self()
	return behaviours.Send([]byte("STARTTLS"))
}

func (h *starttlsClient) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	h.count++
	h.packets <- fmt.Sprintf("%d %s %s %v", h.count, c.Transport(), p, c.TLS() != nil)
	if string(p) == "OK" {
		return behaviours.Continue().StartTLS(h.cfg)
	}
	return behaviours.Continue()
}

func TestStartTLSClient(t *testing.T) {
	sys, cert, seen, srv := startStartTLS(t)

	packets := make(chan string, 16)
	pids := make(chan *actor.PID, 1)
	pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler {
		return &starttlsClient{cfg: &tls.Config{RootCAs: certPool(cert.Leaf)}, packets: packets, pids: pids}
	}, nil, actors.WithSocket(transport.WithFramer(transport.Line())))
	assert.Equal(t, pid, testkit.Recv(t, pids))
	assert.Equal(t, "1 tcp OK false", testkit.Recv(t, packets))
	assert.Equal(t, "STARTTLS", testkit.Recv(t, seen).line)

	for i, line := range []string{"over tls", "again"} {
		require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte(line)))
		assert.Equal(t, fmt.Sprintf("%d tls %d tls %s true", i+2, i+2, line), testkit.Recv(t, packets))
		s := testkit.Recv(t, seen)
		assert.Equal(t, "tls", s.transport)
		require.NotNil(t, s.tls)
		assert.Equal(t, uint16(tls.VersionTLS13), s.tls.Version)
	}
	info, err := client.Describe(testkit.Ctx(t), sys.Root, pid)
	require.NoError(t, err)
	assert.Equal(t, "tls", info.Transport)
}

// A failed upgrade ends the connection with the handshake's error.
func TestStartTLSHandshakeFails(t *testing.T) {
	sys := testkit.NewSystem(t)
	cert := selfSigned(t)
	reasons := make(chan error, 1)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler {
		return &upgradeThenEnd{starttlsServer{cfg: &tls.Config{Certificates: []tls.Certificate{cert}},
			seen: make(chan seenLine, 4)}, reasons}
	}, nil, actors.WithSocket(transport.WithFramer(transport.Line()), transport.WithHandshakeTimeout(time.Second)))
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	r := bufio.NewReader(raw)
	_, err := raw.Write([]byte("STARTTLS\n"))
	require.NoError(t, err)
	require.Equal(t, "OK", testkit.ReadLine(t, r))
	_, err = raw.Write([]byte("this is not a TLS client hello\n"))
	require.NoError(t, err)
	reason := testkit.Recv(t, reasons)
	require.Error(t, reason)
	assert.Contains(t, reason.Error(), "tls")
}

type upgradeThenEnd struct {
	starttlsServer
	reasons chan<- error
}

func (h *upgradeThenEnd) Terminate(_ behaviours.Conn, reason error) error {
	h.reasons <- reason
	return reason
}

// The line before STARTTLS arrives in the same segment, in active or
// passive mode, and the client takes its time (longer than the idle
// reader's park deadline) before its hello: the upgrade still happens
// and nothing the client sends is lost.
func TestStartTLSPipelinedAndSlowClient(t *testing.T) {
	for _, passive := range []bool{false, true} {
		t.Run(fmt.Sprintf("passive=%v", passive), func(t *testing.T) {
			sys := testkit.NewSystem(t)
			cert := selfSigned(t)
			seen := make(chan seenLine, 16)
			sock := []transport.Option{transport.WithFramer(transport.Line())}
			if passive {
				sock = append(sock, transport.WithPassive())
			}
			srv := testkit.StartServer(t, sys, "", func() behaviours.Handler {
				h := &starttlsServer{cfg: &tls.Config{Certificates: []tls.Certificate{cert}}, seen: seen}
				if passive {
					return &recvEach{h}
				}
				return h
			}, nil, actors.WithSocket(sock...), actors.WithParkAfter(20*time.Millisecond))

			raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
			r := bufio.NewReader(raw)
			_, err := raw.Write([]byte("EHLO\nSTARTTLS\n"))
			require.NoError(t, err)
			assert.Equal(t, "1 tcp EHLO", testkit.ReadLine(t, r))
			require.Equal(t, "OK", testkit.ReadLine(t, r))
			assert.Equal(t, "EHLO", testkit.Recv(t, seen).line)
			assert.Equal(t, "STARTTLS", testkit.Recv(t, seen).line)

			// Slower than the park deadline: the handshake must not
			// inherit it.
			quiet(t, seen, 100*time.Millisecond)
			conn := tls.Client(raw, &tls.Config{RootCAs: certPool(cert.Leaf), ServerName: "127.0.0.1"})
			require.NoError(t, conn.HandshakeContext(testkit.Ctx(t)))
			_, err = conn.Write([]byte("MAIL\n"))
			require.NoError(t, err)
			assert.Equal(t, "3 tls MAIL", testkit.ReadLine(t, bufio.NewReader(conn)))
		})
	}
}

// recvEach runs a starttlsServer in passive mode, asking for one frame
// at a time.
type recvEach struct{ *starttlsServer }

func (h *recvEach) Init(behaviours.Conn, any) behaviours.Result {
	return behaviours.Recv(0, behaviours.Never)
}

func (h *recvEach) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	return h.starttlsServer.HandlePacket(c, p).Recv(0, behaviours.Never)
}

// recvOnCall runs a starttlsServer in passive mode; after the first
// frame it reads only when a call asks it to.
type recvOnCall struct{ *starttlsServer }

func (h *recvOnCall) Init(behaviours.Conn, any) behaviours.Result {
	return behaviours.Recv(0, behaviours.Never)
}

func (h *recvOnCall) HandleCall(behaviours.Conn, any, behaviours.From) behaviours.Result {
	return behaviours.Reply(nil).Recv(0, behaviours.Never)
}

// STARTTLS read from what was already buffered (delivered after a Recv
// from a call, not from a socket read) still upgrades at once.
func TestStartTLSFromBufferedFrame(t *testing.T) {
	sys := testkit.NewSystem(t)
	cert := selfSigned(t)
	seen := make(chan seenLine, 16)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler {
		return &recvOnCall{&starttlsServer{cfg: &tls.Config{Certificates: []tls.Certificate{cert}}, seen: seen}}
	}, nil, actors.WithSocket(transport.WithFramer(transport.Line()), transport.WithPassive()))

	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	r := bufio.NewReader(raw)
	_, err := raw.Write([]byte("EHLO\nSTARTTLS\n"))
	require.NoError(t, err)
	assert.Equal(t, "1 tcp EHLO", testkit.ReadLine(t, r))
	pid := testkit.Recv(t, seen).pid
	_, err = client.Call(testkit.Ctx(t), sys.Root, pid, "recv")
	require.NoError(t, err)
	require.Equal(t, "OK", testkit.ReadLine(t, r))
	assert.Equal(t, "STARTTLS", testkit.Recv(t, seen).line)

	conn := tls.Client(raw, &tls.Config{RootCAs: certPool(cert.Leaf), ServerName: "127.0.0.1"})
	ctx, cancel := context.WithTimeout(testkit.Ctx(t), 3*time.Second)
	defer cancel()
	require.NoError(t, conn.HandshakeContext(ctx), "the server never started its handshake")
	_, err = client.Call(testkit.Ctx(t), sys.Root, pid, "recv")
	require.NoError(t, err)
	_, err = conn.Write([]byte("MAIL\n"))
	require.NoError(t, err)
	assert.Equal(t, "3 tls MAIL", testkit.ReadLine(t, bufio.NewReader(conn)))
}
