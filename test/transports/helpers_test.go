package transports_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every blocking step: generous for a loaded machine under
// -race, short enough that a hang fails fast.
const wait = 10 * time.Second

var discard = slog.New(slog.DiscardHandler)

// newSystem returns an actor system shut down when the test ends.
func newSystem(t *testing.T) *actor.ActorSystem {
	t.Helper()
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond))
	t.Cleanup(sys.Shutdown)
	return sys
}

// testCtx ends with the test, or after wait.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts a server on addr ("" = 127.0.0.1:0), stopped when
// the test ends.
func startServer(t *testing.T, sys *actor.ActorSystem, addr string, f behaviours.Factory, opts ...server.Option) *server.Server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	opts = append([]server.Option{server.WithLogger(discard)}, opts...)
	srv, err := server.Start(sys, f, nil, addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, srv.Stop(ctx, nil))
	})
	return srv
}

// dial starts a client connection, stopped when the test ends.
func dial(t *testing.T, sys *actor.ActorSystem, addr string, f behaviours.Factory, opts ...client.Option) *actor.PID {
	t.Helper()
	pid, err := tryDial(t, sys, addr, f, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, client.Stop(ctx, sys.Root, pid, nil))
	})
	return pid
}

func tryDial(t *testing.T, sys *actor.ActorSystem, addr string, f behaviours.Factory, opts ...client.Option) (*actor.PID, error) {
	t.Helper()
	opts = append([]client.Option{client.WithLogger(discard)}, opts...)
	return client.Dial(testCtx(t), sys.Root, addr, f, nil, opts...)
}

// dialRaw opens a plain socket, closed when the test ends.
func dialRaw(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, wait)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(wait)))
	t.Cleanup(func() { c.Close() })
	return c
}

// recv takes the next value from ch, failing the test after wait.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("nothing arrived within %v", wait)
		panic("unreachable")
	}
}

// requireEmpty asserts ch holds nothing right now.
func requireEmpty[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %v", v)
	default:
	}
}

// readLine reads one line (without its LF) from r.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(line, "\n")
}

// lineEcho sends every line back, over any transport.
type lineEcho struct{ behaviours.Base }

func (lineEcho) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

// collector is a client handler that hands every packet it receives (and
// the transport it came over) to a channel.
type collector struct {
	behaviours.Base
	packets chan<- string
}

func (h collector) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	h.packets <- c.Transport() + ":" + string(p)
	return behaviours.Continue()
}

// Certificates.

func selfSigned(t *testing.T, hosts ...string) tls.Certificate {
	t.Helper()
	cert, err := transport.SelfSigned(hosts...)
	require.NoError(t, err)
	return cert
}

func certPool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// authority is a throwaway certificate authority for client certificates.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newAuthority(t *testing.T, name string) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &authority{cert: cert, key: key}
}

// issue makes a client certificate signed by the authority.
func (a *authority) issue(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"etcp tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
