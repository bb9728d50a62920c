package registry_test

import (
	"crypto/tls"
	"net"
	"os"
	"os/exec"
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
