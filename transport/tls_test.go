package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
	"github.com/etcp-go/etcp/transport/transporttest"
)

func selfSigned(t *testing.T, hosts ...string) tls.Certificate {
	t.Helper()
	cert, err := transport.SelfSigned(hosts...)
	require.NoError(t, err)
	return cert
}

func pool(certs ...tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.Leaf)
	}
	return p
}

// tlsStater is how a caller reaches the TLS session behind a Conn.
type tlsStater interface {
	ConnectionState() tls.ConnectionState
}

func TestTLSConformance(t *testing.T) {
	cert := selfSigned(t)
	// One config for both ends: the server's certificate, and the roots a
	// dialling client trusts.
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool(cert)}
	transporttest.Run(t, transport.TLS(cfg), loopback)
}

func TestSelfSigned(t *testing.T) {
	cert := selfSigned(t)
	leaf := cert.Leaf
	require.NotNil(t, leaf)
	assert.Equal(t, "127.0.0.1", leaf.Subject.CommonName)
	assert.Equal(t, []string{"localhost"}, leaf.DNSNames)
	require.Len(t, leaf.IPAddresses, 1)
	assert.True(t, leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)))
	for _, host := range []string{"127.0.0.1", "localhost"} {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool(cert)})
		assert.NoError(t, err, host)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool(cert)})
	assert.Error(t, err)

	other := selfSigned(t, "svc.example", "10.0.0.1")
	assert.Equal(t, "svc.example", other.Leaf.Subject.CommonName)
	assert.Equal(t, []string{"svc.example"}, other.Leaf.DNSNames)
	assert.NotEqual(t, cert.Leaf.SerialNumber, other.Leaf.SerialNumber)
}

func TestTLSListenNeedsCertificate(t *testing.T) {
	for _, cfg := range []*tls.Config{nil, {}} {
		_, err := transport.TLS(cfg).Listen(testCtx(t), "127.0.0.1:0", defaults())
		assert.ErrorIs(t, err, transport.ErrInvalidOptions)
	}
}

// Accept hands over the connection before any TLS byte has come: a silent
// peer holds up only its own Handshake, which its context bounds.
func TestTLSAcceptDoesNotHandshake(t *testing.T) {
	cert := selfSigned(t)
	ln := listen(t, transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}), "127.0.0.1:0")
	_, server := connect(t, ln, transport.TCP()) // a plain client that says nothing
	assert.Equal(t, "tls", server.Transport())
	assert.False(t, server.(tlsStater).ConnectionState().HandshakeComplete)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.Error(t, server.Handshake(ctx))
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestTLSConnectionState(t *testing.T) {
	cert := selfSigned(t)
	tr := transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool(cert)})
	client, server := connect(t, listen(t, tr, "127.0.0.1:0"), tr)
	for _, c := range []transport.Conn{client, server} {
		assert.NotImplements(t, (*syscall.Conn)(nil), c, "TLS bytes on the socket are not application bytes")
		assert.Implements(t, (*tlsStater)(nil), c)
	}
	cerr, serr := handshakeBoth(t, client, server)
	require.NoError(t, cerr)
	require.NoError(t, serr)

	cs := client.(tlsStater).ConnectionState()
	assert.True(t, cs.HandshakeComplete)
	assert.Equal(t, uint16(tls.VersionTLS13), cs.Version)
	assert.NotEmpty(t, tls.CipherSuiteName(cs.CipherSuite))
	require.NotEmpty(t, cs.PeerCertificates)
	assert.Equal(t, "127.0.0.1", cs.PeerCertificates[0].Subject.CommonName)
	ss := server.(tlsStater).ConnectionState()
	assert.Equal(t, cs.CipherSuite, ss.CipherSuite)
	assert.Empty(t, ss.PeerCertificates, "no client certificate was asked for")

	// Socket options pass through to the TCP socket.
	require.NoError(t, client.SetSocketOptions(transport.SocketOptions{KeepAlive: 7 * time.Second}))
	got, err := client.SocketOptions()
	require.NoError(t, err)
	assert.Equal(t, 7*time.Second, got.KeepAlive)
	assert.False(t, got.NoDelay)
}

// A dial with no ServerName sends the host it dialled as SNI.
func TestTLSDialSetsServerName(t *testing.T) {
	cert := selfSigned(t)
	tr := transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool(cert)})
	ln := listen(t, tr, "127.0.0.1:0")
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	accepted := make(chan transport.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := tr.Dial(testCtx(t), net.JoinHostPort("localhost", port), defaults())
	require.NoError(t, err)
	defer client.Close()
	server := <-accepted
	require.NotNil(t, server)
	defer server.Close()
	cerr, serr := handshakeBoth(t, client, server)
	require.NoError(t, cerr)
	require.NoError(t, serr)
	assert.Equal(t, "localhost", server.(tlsStater).ConnectionState().ServerName)
}

// A dial verifies the certificate against the host it dialled.
func TestTLSDialVerifiesHost(t *testing.T) {
	cert := selfSigned(t, "elsewhere.example")
	tr := transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool(cert)})
	client, server := connect(t, listen(t, tr, "127.0.0.1:0"), tr)
	cerr, serr := handshakeBoth(t, client, server)
	var hostErr x509.HostnameError
	assert.ErrorAs(t, cerr, &hostErr)
	assert.Error(t, serr)
}

func TestTLSMutual(t *testing.T) {
	serverCert := selfSigned(t)
	clientCert := selfSigned(t, "client.example")
	strangerCert := selfSigned(t, "client.example")
	serverTr := transport.TLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool(clientCert),
	})
	ln := listen(t, serverTr, "127.0.0.1:0")

	tests := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"GoodCert", []tls.Certificate{clientCert}, true},
		{"NoCert", nil, false},
		{"WrongCert", []tls.Certificate{strangerCert}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clientTr := transport.TLS(&tls.Config{Certificates: tc.certs, RootCAs: pool(serverCert)})
			client, server := connect(t, ln, clientTr)
			cerr, serr := handshakeBoth(t, client, server)
			if tc.ok {
				require.NoError(t, cerr)
				require.NoError(t, serr)
				peers := server.(tlsStater).ConnectionState().PeerCertificates
				require.NotEmpty(t, peers)
				assert.Equal(t, "client.example", peers[0].Subject.CommonName)
				return
			}
			require.Error(t, serr, "the server refuses the client")
			server.Close()
			if cerr == nil {
				// TLS 1.3: the client finishes first and learns of the
				// refusal on its first read.
				_, cerr = client.Read(make([]byte, 1))
			}
			require.Error(t, cerr)
			assert.NotErrorIs(t, cerr, io.EOF)
		})
	}
}

// UpgradeTLS: plain bytes first (the STARTTLS exchange), then TLS both ways
// over the same sockets.
func TestUpgradeTLS(t *testing.T) {
	cert := selfSigned(t)
	tr := transport.TCP()
	client, server := connect(t, listen(t, tr, "127.0.0.1:0"), tr)

	_, err := client.Write([]byte("STARTTLS\n"))
	require.NoError(t, err)
	line := make([]byte, 9)
	_, err = io.ReadFull(server, line)
	require.NoError(t, err)
	require.Equal(t, "STARTTLS\n", string(line))
	_, err = server.Write([]byte("GO\n"))
	require.NoError(t, err)
	_, err = io.ReadFull(client, line[:3])
	require.NoError(t, err)
	require.Equal(t, "GO\n", string(line[:3]))

	sc := transport.UpgradeTLS(server, &tls.Config{Certificates: []tls.Certificate{cert}}, true)
	cc := transport.UpgradeTLS(client, &tls.Config{RootCAs: pool(cert)}, false)
	cerr, serr := handshakeBoth(t, cc, sc)
	require.NoError(t, cerr)
	require.NoError(t, serr)
	for _, c := range []transport.Conn{cc, sc} {
		assert.Equal(t, "tls", c.Transport())
		assert.True(t, c.(tlsStater).ConnectionState().HandshakeComplete)
	}
	// No ServerName was given: the client verified the peer's IP address.
	require.Equal(t, "127.0.0.1", cc.(tlsStater).ConnectionState().PeerCertificates[0].Subject.CommonName)

	for _, dir := range []struct{ from, to transport.Conn }{{cc, sc}, {sc, cc}} {
		_, err := dir.from.Write([]byte("secret"))
		require.NoError(t, err)
		got := make([]byte, 6)
		_, err = io.ReadFull(dir.to, got)
		require.NoError(t, err)
		assert.Equal(t, "secret", string(got))
	}
	require.NoError(t, cc.Close())
	require.NoError(t, sc.Close())
}
