package faults_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// tlsConfigs makes a self-signed certificate and the server and client
// configurations that use and trust it.
func tlsConfigs(t testing.TB) (srv, cli *tls.Config) {
	t.Helper()
	cert, err := transport.SelfSigned()
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{Certificates: []tls.Certificate{cert}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// upgradeOn makes p's HandleCast, HandleInfo and HandleCall answer
// "starttls" by sending "STARTTLS" (the line the peer waits for) and
// upgrading with cfg; packets are echoed prefixed with the transport.
func upgradeOn(p *probe, cfg *tls.Config) {
	up := func() behaviours.Result { return behaviours.Send([]byte("STARTTLS")).StartTLS(cfg) }
	p.cast = func(_ behaviours.Conn, msg any) behaviours.Result {
		if msg == "starttls" {
			return up()
		}
		return behaviours.Continue()
	}
	p.info = p.cast
	p.call = func(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
		if req == "starttls" {
			return up().Reply("upgrading")
		}
		return behaviours.Reply(nil)
	}
	p.packet = func(c behaviours.Conn, pk []byte) behaviours.Result {
		return behaviours.Send(fmt.Appendf(nil, "%s %s", c.Transport(), pk))
	}
}

// upgradeBy asks the connection pid to upgrade through the callback
// named how.
func upgradeBy(t testing.TB, sys *actor.ActorSystem, pid *actor.PID, how string) {
	t.Helper()
	switch how {
	case "HandleCast":
		client.Cast(sys.Root, pid, "starttls")
	case "HandleInfo":
		client.Info(sys.Root, pid, "starttls")
	case "HandleCall":
		v, err := client.Call(testkit.Ctx(t), sys.Root, pid, "starttls")
		require.NoError(t, err)
		require.Equal(t, "upgrading", v)
	}
}

// readLineRaw reads one line a byte at a time, so that nothing after it
// (a TLS record) is taken from the socket.
func readLineRaw(t testing.TB, c net.Conn) string {
	t.Helper()
	var line []byte
	b := make([]byte, 1)
	for {
		_, err := c.Read(b)
		require.NoError(t, err)
		if b[0] == '\n' {
			return string(line)
		}
		line = append(line, b[0])
	}
}

var upgradeCallbacks = []string{"HandleCast", "HandleInfo", "HandleCall"}

// Defect 8: StartTLS from HandleCast, HandleInfo and HandleCall, on a
// server connection, whether its reader is reading or parked.
func TestStartTLSFromMessagesServer(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	sys := testkit.NewSystem(t)
	p := newProbe()
	upgradeOn(p, srvCfg)
	srv := testkit.StartServer(t, sys, "", newHandler, p, actors.WithSocket(transport.WithFramer(transport.Line())))
	for _, how := range upgradeCallbacks {
		for _, parked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s parked=%v", how, parked), func(t *testing.T) {
				raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
				r := bufio.NewReader(raw)
				testkit.Write(t, raw, "hi\n")
				require.Equal(t, "tcp hi", testkit.ReadLine(t, r))
				require.Zero(t, r.Buffered())
				var pid *actor.PID
				for _, c := range testkit.Conns(t, srv) {
					if c.Peer.String() == raw.LocalAddr().String() {
						pid = c.PID
					}
				}
				require.NotNil(t, pid)
				if parked {
					require.Eventually(t, func() bool { s, _ := actors.StatsOf(sys, pid); return s.Parked == 1 },
						testkit.Wait, tick)
				}
				upgradeBy(t, sys, pid, how)
				require.Equal(t, "STARTTLS", readLineRaw(t, raw))
				tc := tls.Client(raw, cliCfg)
				require.NoError(t, tc.HandshakeContext(testkit.Ctx(t)))
				tr := bufio.NewReader(tc)
				for _, line := range []string{"secret", "more"} {
					testkit.Write(t, tc, line+"\n")
					require.Equal(t, "tls "+line, testkit.ReadLine(t, tr))
				}
				info, err := client.Describe(testkit.Ctx(t), sys.Root, pid)
				require.NoError(t, err)
				require.Equal(t, "tls", info.Transport)
			})
		}
	}
	n := len(upgradeCallbacks) * 2
	p.awaitTerms(t, int64(n)) // the peers closed at the end of their subtests
	p.requireOnce(t, n)
}

// Defect 8: the same on a dialled connection, which upgrades as a TLS
// client.
func TestStartTLSFromMessagesClient(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	sys := testkit.NewSystem(t)
	peers := listenPeer(t)
	for _, how := range upgradeCallbacks {
		t.Run(how, func(t *testing.T) {
			p := newProbe()
			upgradeOn(p, cliCfg)
			got := make(chan string, 4)
			p.packet = func(c behaviours.Conn, pk []byte) behaviours.Result {
				got <- fmt.Sprintf("%s %s", c.Transport(), pk)
				return behaviours.Continue()
			}
			pid := testkit.Dial(t, sys, peers.addr(), newHandler, p, actors.WithSocket(transport.WithFramer(transport.Line())))
			raw := peers.accept()
			testkit.Write(t, raw, "plain\n")
			require.Equal(t, "tcp plain", testkit.Recv(t, got))

			upgradeBy(t, sys, pid, how)
			require.Equal(t, "STARTTLS", readLineRaw(t, raw))
			tc := tls.Server(raw, srvCfg)
			require.NoError(t, tc.HandshakeContext(testkit.Ctx(t)))
			require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte("secret")))
			require.Equal(t, "secret", testkit.ReadLine(t, bufio.NewReader(tc)))
			testkit.Write(t, tc, "answer\n")
			require.Equal(t, "tls answer", testkit.Recv(t, got))
			require.Zero(t, p.nTerm.Load())
		})
	}
}

// skipLine is a client socket that drops the first line it reads (the
// server's STARTTLS), so that a TLS client over it can start its
// handshake before that line has come.
type skipLine struct {
	net.Conn
	skipped bool
}

func (s *skipLine) Read(b []byte) (int, error) {
	for !s.skipped {
		one := make([]byte, 1)
		if _, err := s.Conn.Read(one); err != nil {
			return 0, err
		}
		s.skipped = one[0] == '\n'
	}
	return s.Conn.Read(b)
}

// Defect 8: the peer's ClientHello, read by the connection's reader and
// waiting in its mailbox behind the message whose callback asks for
// StartTLS, is the start of the handshake (not lost to it).
func TestStartTLSWithTheHelloAlreadyRead(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	sys := testkit.NewSystem(t)
	p := newProbe()
	upgradeOn(p, srvCfg)
	entered, release := make(chan struct{}), make(chan struct{})
	upgrade := p.call
	p.call = func(c behaviours.Conn, req any, from behaviours.From) behaviours.Result {
		if req == "block" {
			close(entered)
			<-release
			return behaviours.Reply(nil)
		}
		return upgrade(c, req, from)
	}
	srv := testkit.StartServer(t, sys, "", newHandler, p, actors.WithSocket(transport.WithFramer(transport.Line()),
		transport.WithHandshakeTimeout(time.Second)))
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	pid := pidOf(t, srv, raw)

	blocked := make(chan error, 1)
	go func() { _, err := client.Call(testkit.Ctx(t), sys.Root, pid, "block"); blocked <- err }()
	<-entered                              // the actor is busy:
	client.Cast(sys.Root, pid, "starttls") // the upgrade is queued first,
	tc := tls.Client(&skipLine{Conn: raw}, cliCfg)
	handshake := make(chan error, 1)
	go func() { handshake <- tc.HandshakeContext(testkit.Ctx(t)) }()
	// ...then the ClientHello, which the reader reads and posts behind
	// it. Nothing shows when it has; this leaves it the time to.
	time.Sleep(100 * time.Millisecond)
	close(release)
	require.NoError(t, testkit.Recv(t, blocked))
	require.NoError(t, testkit.Recv(t, handshake))
	testkit.Write(t, tc, "secret\n")
	require.Equal(t, "tls secret", testkit.ReadLine(t, bufio.NewReader(tc)))
}
