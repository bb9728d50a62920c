package test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"strings"
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
	"github.com/etcp-go/etcp/test/testkit/testcerts"
	"github.com/etcp-go/etcp/transport"
)

// Half-close, modelled on a request sent and then the peer's FIN
// (`printf 'req' | nc -N`), the reply read after it; and the other way
// round, the server shutting its own side (behaviours.CloseWrite).

// halfPeer is one way to reach a server: how it listens, how a peer
// dials it, and how that peer shuts its own write side.
type halfPeer struct {
	name      string
	opts      []server.Option
	network   string // of the listen address
	dial      func(t *testing.T, addr string) net.Conn
	closeSide func(c net.Conn) error
	canSleep  bool // the connection passivates when it hibernates (not TLS)
}

func halfPeers(t *testing.T) []halfPeer {
	ca, err := testcerts.NewCA("ca")
	require.NoError(t, err)
	leaf, err := ca.Issue("server")
	require.NoError(t, err)
	rawDial := func(network string) func(t *testing.T, addr string) net.Conn {
		return func(t *testing.T, addr string) net.Conn { return testkit.DialRaw(t, network, addr) }
	}
	closeWrite := func(c net.Conn) error { return c.(interface{ CloseWrite() error }).CloseWrite() }
	tlsDial := func(t *testing.T, addr string) net.Conn {
		raw := testkit.DialRaw(t, "tcp", addr)
		c := tls.Client(raw, &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1"})
		require.NoError(t, c.Handshake())
		return c
	}
	loop := actors.WithEventLoop(1)
	return []halfPeer{
		{name: "tcp", network: "tcp", dial: rawDial("tcp"), closeSide: closeWrite, canSleep: true},
		{name: "tcp/event-loop", opts: []server.Option{loop}, network: "tcp", dial: rawDial("tcp"), closeSide: closeWrite, canSleep: true},
		{name: "unix", opts: []server.Option{actors.WithSocket(transport.WithTransport(transport.Unix()))},
			network: "unix", dial: rawDial("unix"), closeSide: closeWrite, canSleep: true},
		{name: "tls", opts: []server.Option{actors.WithSocket(transport.WithTransport(transport.TLS(
			&tls.Config{Certificates: []tls.Certificate{leaf.TLS}})))},
			network: "tcp", dial: tlsDial, closeSide: closeWrite},
	}
}

// startHalf starts a server of f for peer, with opts after peer's own.
func startHalf(t *testing.T, sys *actor.ActorSystem, peer halfPeer, f behaviours.Factory, p *probe, opts ...server.Option) *server.Server {
	addr := ""
	if peer.network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	return testkit.StartServer(t, sys, addr, f, p, append(append([]server.Option{}, peer.opts...), opts...)...)
}

// lateReplier answers its request only when asked by a call, which comes
// after the peer's FIN; HandleDisconnect hibernates if asked to.
type lateReplier struct {
	base
	req       []byte
	hibernate bool
}

func (h *lateReplier) Init(c behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	h.p.emit("init", c.Self())
	return behaviours.Continue()
}

func (h *lateReplier) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.req = append(h.req, p...)
	return behaviours.Continue()
}

func (h *lateReplier) HandleDisconnect(behaviours.Conn) behaviours.Result {
	h.p.emit("disconnect", string(h.req))
	if h.hibernate {
		return behaviours.Hibernate()
	}
	return behaviours.Continue()
}

// HandleCast answers "part": a packet, and the connection stays up.
func (h *lateReplier) HandleCast(_ behaviours.Conn, msg any) behaviours.Result {
	return behaviours.Send([]byte(msg.(string)))
}

// HandleCall answers the request, then shuts the connection's own side:
// with the peer's shut already, that ends it.
func (h *lateReplier) HandleCall(_ behaviours.Conn, _ any, from behaviours.From) behaviours.Result {
	return behaviours.Send([]byte("reply:"+string(h.req))).ReplyTo(from, len(h.req)).CloseWrite()
}

func TestHalfCloseReplyAfterPeerFIN(t *testing.T) {
	for _, peer := range halfPeers(t) {
		for _, hibernate := range []bool{false, true} {
			name := peer.name
			if hibernate {
				name += "/hibernated"
			}
			t.Run(name, func(t *testing.T) {
				sys := testkit.NewSystem(t)
				p := newProbe()
				srv := startHalf(t, sys, peer, func() behaviours.Handler { return &lateReplier{hibernate: hibernate} }, p,
					actors.WithHalfClose())
				c := peer.dial(t, srv.Addr().String())
				pid := p.expect(t, "init").val.(*actor.PID)
				testkit.Write(t, c, "req")
				require.NoError(t, peer.closeSide(c))
				assert.Equal(t, "req", p.expect(t, "disconnect").val)

				if hibernate && peer.canSleep {
					require.Eventually(t, func() bool {
						s, ok := actors.ConnStatsOf(sys, pid)
						return ok && s.State == "passivated"
					}, testkit.Wait, time.Millisecond, "a half-closed connection passivates")
				}
				// The connection is up for writing: a cast's packet arrives.
				require.NoError(t, client.Cast(sys.Root, pid, "part;"))
				assert.Equal(t, "part;", string(testkit.ReadN(t, c, len("part;"))))
				if hibernate {
					require.NoError(t, client.Cast(sys.Root, pid, "again;")) // woken, and hibernated no more: still writing
					assert.Equal(t, "again;", string(testkit.ReadN(t, c, len("again;"))))
				}
				// A call computed after the FIN: its reply and packet arrive,
				// then the end, since both sides are now shut.
				n, err := client.Call(testkit.Ctx(t), sys.Root, pid, "reply?")
				require.NoError(t, err)
				assert.Equal(t, 3, n)
				requireEOF(t, c, "reply:req")
				assert.NoError(t, p.terminated(t))
			})
		}
	}
}

// Without WithHalfClose nothing changes: the peer's FIN ends the
// connection once HandleDisconnect returns, and a later cast finds it
// gone.
func TestNoHalfCloseEndsOnPeerFIN(t *testing.T) {
	for _, peer := range halfPeers(t) {
		t.Run(peer.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			p := newProbe()
			srv := startHalf(t, sys, peer, func() behaviours.Handler { return &lateReplier{} }, p)
			c := peer.dial(t, srv.Addr().String())
			pid := p.expect(t, "init").val.(*actor.PID)
			testkit.Write(t, c, "req")
			require.NoError(t, peer.closeSide(c))
			assert.Equal(t, "req", p.expect(t, "disconnect").val)
			assert.NoError(t, p.terminated(t))
			requireEOF(t, c, "")
			_, err := client.Call(testkit.Ctx(t), sys.Root, pid, "reply?")
			assert.ErrorIs(t, err, actors.ErrClosed)
		})
	}
}

// shutFirst shuts its own side once it has answered "req" (after a
// large answer when big), reads on, and sends again on "send".
type shutFirst struct {
	base
	big bool
}

func (h *shutFirst) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.p.emit("packet", string(p))
	switch string(p) {
	case "req":
		r := behaviours.Send([]byte("resp"))
		if h.big {
			r = r.Send(bytes.Repeat([]byte("x"), bigReply))
		}
		return r.CloseWrite()
	case "send":
		return behaviours.Send([]byte("too late"))
	}
	return behaviours.Continue()
}

func (h *shutFirst) HandleDisconnect(behaviours.Conn) behaviours.Result {
	h.p.emit("disconnect", nil)
	return behaviours.Continue()
}

// bigReply is more than the kernel takes at once with the small buffers
// the test asks for: the rest is written by the flusher before the FIN.
const bigReply = 1 << 20

// The server shuts its side first: the peer reads every byte, then the
// end of the stream, while the server still reads; the peer's close then
// ends the connection normally (with or without WithHalfClose).
func TestCloseWriteThenPeerCloses(t *testing.T) {
	for _, peer := range halfPeers(t) {
		for _, big := range []bool{false, true} {
			for _, half := range []bool{false, true} {
				name := peer.name
				if big {
					name += "/backlog"
				}
				if half {
					name += "/half-close"
				}
				t.Run(name, func(t *testing.T) {
					sys := testkit.NewSystem(t)
					p := newProbe()
					opts := []server.Option{actors.WithSocket(transport.WithSocketOptions(transport.SocketOptions{
						NoDelay: true, WriteBuffer: 16 << 10}))}
					if half {
						opts = append(opts, actors.WithHalfClose())
					}
					srv := startHalf(t, sys, peer, func() behaviours.Handler { return &shutFirst{big: big} }, p, opts...)
					c := peer.dial(t, srv.Addr().String())
					p.expect(t, "init")
					testkit.Write(t, c, "req")
					assert.Equal(t, "req", p.expect(t, "packet").val)
					got, err := io.ReadAll(c)
					require.NoError(t, err, "the server's side ends with a FIN (TLS: close_notify)")
					want := "resp"
					if big {
						want += strings.Repeat("x", bigReply)
					}
					require.Equal(t, len(want), len(got))
					require.Equal(t, want, string(got))

					testkit.Write(t, c, "more") // the server reads on
					assert.Equal(t, "more", p.expect(t, "packet").val)
					require.NoError(t, c.Close())
					p.expect(t, "disconnect")
					assert.NoError(t, p.terminated(t), "both sides shut: a normal end")
				})
			}
		}
	}
}

// A packet after CloseWrite ends the connection with ErrWriteClosed.
func TestSendAfterCloseWrite(t *testing.T) {
	for _, peer := range halfPeers(t) {
		t.Run(peer.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			p := newProbe()
			srv := startHalf(t, sys, peer, func() behaviours.Handler { return &shutFirst{} }, p)
			c := peer.dial(t, srv.Addr().String())
			p.expect(t, "init")
			testkit.Write(t, c, "req")
			p.expect(t, "packet")
			got, err := io.ReadAll(c)
			require.NoError(t, err)
			require.Equal(t, "resp", string(got))
			testkit.Write(t, c, "send")
			assert.Equal(t, "send", p.expect(t, "packet").val)
			assert.ErrorIs(t, p.terminated(t), actors.ErrWriteClosed)
		})
	}
}

// badAfterFIN asks, once the peer's side is shut, for what a half-closed
// connection cannot do: a Recv (passive) or a StartTLS.
type badAfterFIN struct {
	base
	ask behaviours.Result
}

func (h *badAfterFIN) HandleDisconnect(behaviours.Conn) behaviours.Result {
	h.p.emit("disconnect", nil)
	return behaviours.Continue()
}

func (h *badAfterFIN) HandleCast(behaviours.Conn, any) behaviours.Result { return h.ask }

func TestHalfClosedRefusesRecvAndStartTLS(t *testing.T) {
	for name, ask := range map[string]behaviours.Result{
		"recv":     behaviours.Continue().Passive().Recv(0, 0),
		"starttls": behaviours.Continue().StartTLS(&tls.Config{}),
	} {
		t.Run(name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			p := newProbe()
			srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &badAfterFIN{ask: ask} }, p,
				actors.WithHalfClose())
			c := testkit.DialRaw(t, "tcp", srv.Addr().String())
			p.expect(t, "init")
			conns := testkit.Conns(t, srv)
			require.Len(t, conns, 1)
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			p.expect(t, "disconnect")
			require.NoError(t, client.Cast(sys.Root, conns[0].PID, "go"))
			assert.ErrorIs(t, p.terminated(t), actors.ErrInvalidResult)
		})
	}
}

// answerOnFIN answers what it read once the peer's side is shut, then
// closes.
type answerOnFIN struct {
	base
	req []byte
}

func (h *answerOnFIN) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.req = append(h.req, p...)
	return behaviours.Continue()
}

func (h *answerOnFIN) HandleDisconnect(behaviours.Conn) behaviours.Result {
	return behaviours.Send([]byte("reply:" + string(h.req))).Close()
}

// askThenShut is a client that sends its request and shuts its side at
// once, from Init, then reads the answer to the end.
type askThenShut struct{ sink }

func (h *askThenShut) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	return behaviours.Send([]byte("req")).CloseWrite()
}

func (h *askThenShut) HandleDisconnect(behaviours.Conn) behaviours.Result {
	h.p.emit("disconnect", nil)
	return behaviours.Continue()
}

// Both ends on this library: the client sends a request and its FIN
// (CloseWrite from Init); the server, half-closing, answers on the FIN
// and closes; the client reads the answer, then the end.
func TestHalfCloseClientAndServer(t *testing.T) {
	sys := testkit.NewSystem(t)
	sp := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &answerOnFIN{} }, sp, actors.WithHalfClose())
	cp := newProbe()
	pid, err := testkit.TryDial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &askThenShut{} }, cp)
	require.NoError(t, err)
	require.NotNil(t, pid)
	sp.expect(t, "init")
	var got string
	for ev := cp.next(t); ev.kind != "disconnect"; ev = cp.next(t) {
		require.Equal(t, "packet", ev.kind)
		got += ev.val.(string)
	}
	assert.Equal(t, "reply:req", got)
	assert.NoError(t, cp.terminated(t), "both sides shut: the client ends normally")
	assert.NoError(t, sp.terminated(t))
}
