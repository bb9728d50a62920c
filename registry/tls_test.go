package registry_test

import (
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/test/testkit/testcerts"
)

// probe makes a TLS handshake with addr and reads the first byte the
// node sends (gRPC's settings frame) within a second: nil once the node
// accepted cfg's certificate.
func probe(addr string, cfg *tls.Config) error {
	d := &net.Dialer{Timeout: time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

// alone runs the test in a process of its own (the test binary again,
// running only this test), where its node is the only remote: a remote
// started after another's gRPC goroutines ran races with them on gRPC's
// global logger (remote.Start sets it).
func alone(t *testing.T) bool {
	if os.Getenv("ETCP_REGISTRY_ALONE") != "" {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), "ETCP_REGISTRY_ALONE=1", "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	return true
}

func TestMutualTLS(t *testing.T) {
	if alone(t) {
		return
	}
	ca, err := testcerts.NewCA("etcp test CA")
	require.NoError(t, err)
	leaf, err := ca.Issue("node")
	require.NoError(t, err)
	other, err := testcerts.NewCA("another CA")
	require.NoError(t, err)
	stranger, err := other.Issue("stranger")
	require.NoError(t, err)

	// Configs that would not make it mutual are refused.
	sys := newSystem()
	loose := leaf.Server(ca)
	loose.ClientAuth = tls.VerifyClientCertIfGiven
	for name, opt := range map[string]registry.NodeOption{
		"server only":           registry.WithMutualTLS(leaf.Server(ca), nil),
		"client certs optional": registry.WithMutualTLS(loose, leaf.Client(ca)),
		"client without a certificate": registry.WithMutualTLS(leaf.Server(ca),
			&tls.Config{RootCAs: ca.Pool}),
	} {
		_, err := registry.StartNode(sys, opt)
		assert.ErrorIs(t, err, registry.ErrInvalid, name)
	}

	n, err := registry.StartNode(sys, registry.WithMutualTLS(leaf.Server(ca), leaf.Client(ca)))
	require.NoError(t, err)
	defer n.Shutdown()
	assert.True(t, n.MutualTLS())
	assert.Equal(t, n.Address(), n.Listen())
	require.NotNil(t, n.ClientTLS())
	assert.Len(t, n.ClientTLS().Certificates, 1)

	require.NoError(t, probe(n.Address(), leaf.Client(ca)), "a client the node trusts")
	assert.Error(t, probe(n.Address(), &tls.Config{RootCAs: ca.Pool}), "no client certificate")
	assert.Error(t, probe(n.Address(), stranger.Client(ca)), "a certificate of another CA")
	assert.Error(t, probe(n.Address(), stranger.Client(other)), "a node it cannot verify")
}

// A node listening on every address advertises one its peers can dial
// (not "[::]:port", what its socket reports): the machine's first
// non-loopback address, or loopback, with the port it listens on.
func TestWildcardListenAdvertises(t *testing.T) {
	if alone(t) {
		return
	}
	ca, err := testcerts.NewCA("etcp test CA")
	require.NoError(t, err)
	var ips []net.IP
	as, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range as {
		if ipn, ok := a.(*net.IPNet); ok {
			ips = append(ips, ipn.IP)
		}
	}
	leaf, err := ca.IssueFor("node", ips...) // valid for every address of the machine
	require.NoError(t, err)

	n, err := registry.StartNode(newSystem(), registry.WithListen("0.0.0.0:0"),
		registry.WithMutualTLS(leaf.Server(ca), leaf.Client(ca)))
	require.NoError(t, err)
	defer n.Shutdown()
	host, port, err := net.SplitHostPort(n.Address())
	require.NoError(t, err)
	ip := net.ParseIP(host)
	require.NotNil(t, ip, n.Address())
	assert.False(t, ip.IsUnspecified(), "advertised %s", n.Address())
	assert.NotNil(t, ip.To4(), "an IPv4 address for 0.0.0.0: %s", n.Address())
	nonLoopback := slices.ContainsFunc(ips, func(a net.IP) bool { return a.To4() != nil && a.IsGlobalUnicast() })
	assert.Equal(t, nonLoopback, !ip.IsLoopback(), "loopback only if the machine has no other address: %s", n.Address())
	assert.True(t, slices.ContainsFunc(ips, ip.Equal), "an address of this machine: %s", n.Address())
	assert.Equal(t, net.JoinHostPort("0.0.0.0", port), n.Listen())
	require.NoError(t, probe(n.Address(), leaf.Client(ca)), "peers reach the node at its address")
}
