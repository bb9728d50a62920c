package transports_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// tlsSeen is what a handler's Init saw of its connection.
type tlsSeen struct {
	transport string
	state     *tls.ConnectionState
	peerCN    string
}

// tlsProbe echoes lines and reports, from Init, what it sees of TLS.
type tlsProbe struct {
	behaviours.Base
	seen chan<- tlsSeen
}

func (h tlsProbe) Init(c behaviours.Conn, _ any) behaviours.Result {
	s := tlsSeen{transport: c.Transport(), state: c.TLS()}
	if s.state != nil && len(s.state.PeerCertificates) > 0 {
		s.peerCN = s.state.PeerCertificates[0].Subject.CommonName
	}
	h.seen <- s
	return behaviours.Continue()
}

func (tlsProbe) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

func TestTLSEcho(t *testing.T) {
	sys := testkit.NewSystem(t)
	cert := selfSigned(t)
	seen := make(chan tlsSeen, 8)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return tlsProbe{seen: seen} }, nil,
		actors.WithSocket(transport.WithFramer(transport.Line()),
			transport.WithTransport(transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))))
	addr := srv.Addr().String()

	t.Run("ClientDial", func(t *testing.T) {
		packets := make(chan string, 8)
		clientSeen := make(chan tlsSeen, 1)
		pid := testkit.Dial(t, sys, addr, func() behaviours.Handler {
			return struct {
				collector
				initOnly
			}{collector{packets: packets}, initOnly{clientSeen}}
		}, nil, actors.WithSocket(transport.WithFramer(transport.Line()),
			transport.WithTransport(transport.TLS(&tls.Config{RootCAs: certPool(cert.Leaf)}))))

		s := testkit.Recv(t, seen)
		assert.Equal(t, "tls", s.transport)
		require.NotNil(t, s.state)
		assert.True(t, s.state.HandshakeComplete)
		assert.Equal(t, uint16(tls.VersionTLS13), s.state.Version)
		assert.NotEmpty(t, tls.CipherSuiteName(s.state.CipherSuite))
		assert.Empty(t, s.state.PeerCertificates, "no client certificate was asked for")

		cs := testkit.Recv(t, clientSeen)
		assert.Equal(t, "tls", cs.transport)
		require.NotNil(t, cs.state)
		assert.Equal(t, s.state.CipherSuite, cs.state.CipherSuite)
		assert.Equal(t, "127.0.0.1", cs.peerCN, "the client sees the server's certificate")

		for _, msg := range []string{"hello", "over", "tls"} {
			require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte(msg)))
			assert.Equal(t, "tls:"+msg, testkit.Recv(t, packets))
		}
	})

	t.Run("PlainCryptoTLS", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: testkit.Wait}, "tcp", addr,
			&tls.Config{RootCAs: certPool(cert.Leaf), ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12})
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(testkit.Wait)))
		assert.Equal(t, uint16(tls.VersionTLS12), conn.ConnectionState().Version)

		s := testkit.Recv(t, seen)
		assert.Equal(t, "tls", s.transport)
		require.NotNil(t, s.state)
		assert.Equal(t, uint16(tls.VersionTLS12), s.state.Version, "the handler sees the version negotiated")
		assert.Equal(t, conn.ConnectionState().CipherSuite, s.state.CipherSuite)

		r := bufio.NewReader(conn)
		_, err = conn.Write([]byte("one\r\ntwo\nthree\n"))
		require.NoError(t, err)
		for _, want := range []string{"one", "two", "three"} {
			assert.Equal(t, want, testkit.ReadLine(t, r))
		}
	})
}

// initOnly reports what Init sees, for composing with other handlers.
type initOnly struct{ seen chan<- tlsSeen }

func (h initOnly) Init(c behaviours.Conn, _ any) behaviours.Result {
	return tlsProbe{seen: h.seen}.Init(c, nil)
}

func TestTLSMutual(t *testing.T) {
	sys := testkit.NewSystem(t)
	serverCert := selfSigned(t)
	ca := newAuthority(t, "etcp test CA")
	stranger := newAuthority(t, "etcp test CA") // same name, other key
	good := ca.issue(t, "client-good")
	wrong := stranger.issue(t, "client-good")

	seen := make(chan tlsSeen, 8)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return tlsProbe{seen: seen} }, nil,
		actors.WithSocket(transport.WithFramer(transport.Line()),
			transport.WithTransport(transport.TLS(&tls.Config{
				Certificates: []tls.Certificate{serverCert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    certPool(ca.cert),
			}))))
	addr := srv.Addr().String()
	clientTLS := func(version uint16, certs ...tls.Certificate) client.Option {
		return actors.WithSocket(transport.WithFramer(transport.Line()),
			transport.WithTransport(transport.TLS(&tls.Config{
				Certificates: certs, RootCAs: certPool(serverCert.Leaf), MaxVersion: version,
			})))
	}

	packets := make(chan string, 8)
	collect := func() behaviours.Handler { return collector{packets: packets} }
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			pid := testkit.Dial(t, sys, addr, collect, nil, clientTLS(version, good))
			s := testkit.Recv(t, seen)
			assert.Equal(t, "client-good", s.peerCN)
			require.NotNil(t, s.state)
			assert.Equal(t, version, s.state.Version)
			require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte("mutual")))
			assert.Equal(t, "tls:mutual", testkit.Recv(t, packets))
		})
	}

	// Refused: with TLS 1.2 the server's Finished follows its check of
	// the client certificate, so Dial fails. The server-side connection
	// fails its handshake and never runs Init.
	for name, certs := range map[string][]tls.Certificate{"NoCert": nil, "WrongCert": {wrong}} {
		t.Run(name, func(t *testing.T) {
			pid, err := testkit.TryDial(t, sys, addr, collect, nil, clientTLS(tls.VersionTLS12, certs...))
			require.Error(t, err)
			assert.Nil(t, pid)
			assert.Contains(t, err.Error(), "tls")
			testkit.RequireEmpty(t, seen)
		})
	}

	// TLS 1.3 lets a client finish its handshake before the server has
	// checked its certificate (as crypto/tls.Dial does): the client
	// connection may start, and then ends with the server's alert, never
	// delivering a packet. Either way the server never runs Init.
	for name, certs := range map[string][]tls.Certificate{"NoCert13": nil, "WrongCert13": {wrong}} {
		t.Run(name, func(t *testing.T) {
			ended := make(chan error, 1)
			pid, err := testkit.TryDial(t, sys, addr, func() behaviours.Handler { return &endWatch{ended: ended} }, nil,
				clientTLS(tls.VersionTLS13, certs...))
			if err == nil {
				reason := testkit.Recv(t, ended)
				require.Error(t, reason, "the connection %s ends with the server's alert", pid.Id)
				assert.Contains(t, reason.Error(), "tls")
			}
			testkit.RequireEmpty(t, seen)
		})
	}

	// The refused attempts left nothing behind, and good clients still
	// get in.
	pid := testkit.Dial(t, sys, addr, collect, nil, clientTLS(tls.VersionTLS13, good))
	assert.Equal(t, "client-good", testkit.Recv(t, seen).peerCN)
	require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte("again")))
	assert.Equal(t, "tls:again", testkit.Recv(t, packets))
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 1 }, testkit.Wait, time.Millisecond,
		"only the last good client is a connection (the others were stopped with their subtests)")
	testkit.RequireEmpty(t, seen)
}

// endWatch reports its Terminate reason.
type endWatch struct {
	behaviours.Base
	ended chan<- error
}

func (h *endWatch) Terminate(_ behaviours.Conn, reason error) error {
	h.ended <- reason
	return reason
}

func TestTLSHandshakeTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	sys := testkit.NewSystem(t)
	cert := selfSigned(t)
	seen := make(chan tlsSeen, 256)
	// One acceptor: a handshake that held it would stall every client.
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return tlsProbe{seen: seen} }, nil,
		server.WithAcceptors(1),
		actors.WithSocket(transport.WithFramer(transport.Line()), transport.WithHandshakeTimeout(timeout),
			transport.WithTransport(transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))))
	addr := srv.Addr().String()

	// Silent peers: connected, never saying a word.
	start := time.Now()
	silent := make([]net.Conn, 3)
	for i := range silent {
		silent[i] = testkit.DialRaw(t, "tcp", addr)
	}
	dropped := make(chan time.Duration, len(silent))
	for _, c := range silent {
		go func() {
			n, err := c.Read(make([]byte, 1))
			if n != 0 || err == nil {
				dropped <- -1
				return
			}
			dropped <- time.Since(start)
		}()
	}

	// Meanwhile TLS clients keep being accepted and served, until the
	// silent peers are dropped.
	var served []time.Duration
	var firstDrop time.Duration
	cfg := &tls.Config{RootCAs: certPool(cert.Leaf), ServerName: "127.0.0.1"}
	for i := 0; firstDrop == 0; i++ {
		select {
		case d := <-dropped:
			firstDrop = d
			continue
		default:
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: testkit.Wait}, "tcp", addr, cfg)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(testkit.Wait)))
		msg := fmt.Sprintf("client %d", i)
		_, err = conn.Write([]byte(msg + "\n"))
		require.NoError(t, err)
		require.Equal(t, msg, testkit.ReadLine(t, bufio.NewReader(conn)))
		served = append(served, time.Since(start))
		conn.Close()
		require.Less(t, i, 10000, "the silent peers were never dropped")
	}
	for range len(silent) - 1 {
		d := testkit.Recv(t, dropped)
		require.Positive(t, d, "a silent peer got bytes or no error")
		firstDrop = min(firstDrop, d)
	}
	require.Positive(t, firstDrop, "a silent peer got bytes or no error")
	assert.GreaterOrEqual(t, firstDrop, timeout, "dropped before the handshake timeout")
	assert.Less(t, firstDrop, timeout+5*time.Second, "dropped long after the handshake timeout")
	require.NotEmpty(t, served)
	assert.Less(t, served[0], firstDrop, "a client was served while the silent peers waited")
	t.Logf("served %d TLS clients while %d silent peers waited %v", len(served), len(silent), firstDrop)

	// Only the real clients reached Init.
	for range served {
		assert.Equal(t, "tls", testkit.Recv(t, seen).transport)
	}
	testkit.RequireEmpty(t, seen)
}
