package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/test/testkit/testcerts"
)

// The two namespaces' addresses, on their veth pair (198.18.0.0/15 is
// reserved for benchmarking, RFC 2544).
var (
	ipA = net.IPv4(198, 18, 7, 1)
	ipB = net.IPv4(198, 18, 7, 2)
)

// requireNetns skips unless the test can make network namespaces.
func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (ip netns add)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command:", err)
	}
}

// ip runs the ip command.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

var nsSeq atomic.Int32

// netnsPair makes two network namespaces joined by a veth pair, veth0 in
// each, with ipA/24 in the first and ipB/24 in the second, and removes
// them when the test ends (after its processes were killed: cleanups
// run last-registered first). The names are unique per process and run.
func netnsPair(t *testing.T) (ns1, ns2 string) {
	t.Helper()
	n := nsSeq.Add(1)
	ns1, ns2 = fmt.Sprintf("etcp-%d-%d-a", os.Getpid(), n), fmt.Sprintf("etcp-%d-%d-b", os.Getpid(), n)
	require.NoError(t, ip("netns", "add", ns1))
	t.Cleanup(func() { deleteNetns(t, ns1) })
	require.NoError(t, ip("netns", "add", ns2))
	t.Cleanup(func() { deleteNetns(t, ns2) })
	// Made inside the namespaces: the names need not be unique outside.
	require.NoError(t, ip("link", "add", "veth0", "netns", ns1, "type", "veth", "peer", "name", "veth0", "netns", ns2))
	for _, s := range []struct {
		ns string
		ip net.IP
	}{{ns1, ipA}, {ns2, ipB}} {
		require.NoError(t, ip("-n", s.ns, "addr", "add", s.ip.String()+"/24", "dev", "veth0"))
		require.NoError(t, ip("-n", s.ns, "link", "set", "veth0", "up"))
		require.NoError(t, ip("-n", s.ns, "link", "set", "lo", "up"))
	}
	return ns1, ns2
}

// deleteNetns removes a namespace (if still there) and fails the test if
// ip netns list still shows it.
func deleteNetns(t *testing.T, ns string) {
	t.Helper()
	if listed(t, ns) {
		if err := ip("netns", "del", ns); err != nil {
			t.Error(err)
		}
	}
	if listed(t, ns) {
		t.Errorf("namespace %s is still listed by ip netns list", ns)
	}
}

// listed reports whether ip netns list shows ns.
func listed(t *testing.T, ns string) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Errorf("ip netns list: %v", err)
		return false
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == ns {
			return true
		}
	}
	return false
}

// buildEtcpctl builds examples/etcpctl into dir, in the background: the
// returned function waits for it.
func buildEtcpctl(t *testing.T, dir string) func() string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "building etcpctl needs the go command")
	bin := filepath.Join(dir, "etcpctl")
	done := make(chan error, 1)
	var out bytes.Buffer
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/etcp-go/etcp/examples/etcpctl")
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	var waited bool
	t.Cleanup(func() {
		if !waited {
			<-done
		}
	})
	return func() string {
		t.Helper()
		waited = true
		require.NoError(t, <-done, "go build etcpctl: %s", &out)
		return bin
	}
}

// ctlResult is one etcpctl run.
type ctlResult struct {
	code           int
	stdout, stderr string
}

// etcpctl runs the etcpctl binary inside namespace ns.
func etcpctl(t *testing.T, bin, ns string, args ...string) ctlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	// A cookie, should a run fall back to one: never read or create
	// ~/.etcp.cookie.
	cmd.Env = append(os.Environ(), registry.CookieEnv+"=netns-test-cookie-0123456789")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "etcpctl %v did not end within 30 s", args)
	r := ctlResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("etcpctl %v: %v", args, err)
	}
	t.Logf("ip netns exec %s etcpctl %s\nexit %d\nstdout:\n%s\nstderr:\n%s", ns, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// fields splits a child's reply, requiring it to start with "ok" or
// "ready" and to have n fields after that.
func fields(t *testing.T, reply, word string, n int) []string {
	t.Helper()
	f := strings.Fields(reply)
	require.True(t, len(f) == n+1 && f[0] == word, "want %q and %d fields, got %q", word, n, reply)
	return f[1:]
}

// eventually polls get, in the test's goroutine (it talks to the
// children), until it returns want, for at most 20 s.
func eventually(t *testing.T, what string, get func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got := get()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %q, still %q after 20 s", what, want, got)
		}
		<-tick.C
	}
}

func writeFiles(t *testing.T, files map[string][]byte) {
	t.Helper()
	for path, data := range files {
		require.NoError(t, os.WriteFile(path, data, 0o600))
	}
}

// TestTwoNodesMutualTLS: node A in one namespace, node B in the other,
// each a process of its own listening on its namespace's address with
// mutual TLS; a device connects to B's server and is registered under a
// cluster name; A calls it by that name; etcpctl, run in A's namespace,
// lists and calls it on B, and is refused without the right
// certificate.
func TestTwoNodesMutualTLS(t *testing.T) {
	requireNetns(t)
	start := time.Now()
	step := func(what string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), what) }
	dir := t.TempDir()
	ctlBin := buildEtcpctl(t, dir)

	// Certificates: one CA for A, B and etcpctl, each leaf for its own
	// address only; and another CA's leaf for A's address.
	ca, err := testcerts.NewCA("netns-test-ca")
	require.NoError(t, err)
	other, err := testcerts.NewCA("another-ca")
	require.NoError(t, err)
	leafA, err := ca.IssueFor("node-a", ipA)
	require.NoError(t, err)
	leafB, err := ca.IssueFor("node-b", ipB)
	require.NoError(t, err)
	leafX, err := other.IssueFor("intruder", ipA)
	require.NoError(t, err)
	f := func(name string) string { return filepath.Join(dir, name) }
	writeFiles(t, map[string][]byte{
		f("ca.pem"): ca.PEM, f("a.pem"): leafA.CertPEM, f("a-key.pem"): leafA.KeyPEM,
		f("b.pem"): leafB.CertPEM, f("b-key.pem"): leafB.KeyPEM,
		f("other-ca.pem"): other.PEM, f("x.pem"): leafX.CertPEM, f("x-key.pem"): leafX.KeyPEM,
	})

	ns1, ns2 := netnsPair(t)
	step("namespaces " + ns1 + " and " + ns2 + " up")
	nodeEnv := func(ip net.IP, label, cert, key string) []string {
		return []string{envIP + "=" + ip.String(), envLabel + "=" + label, envCA + "=" + f("ca.pem"),
			envCert + "=" + f(cert), envKey + "=" + f(key), registry.CookieEnv + "=netns-test-cookie-0123456789"}
	}

	// 1. The nodes: StartNode on the namespace's address is refused
	// without mutual TLS (ErrInsecure), and starts with it.
	a := startChild(t, ns1, "node", nodeEnv(ipA, "node-A", "a.pem", "a-key.pem")...)
	b := startChild(t, ns2, "node", nodeEnv(ipB, "node-B", "b.pem", "b-key.pem")...)
	step("nodes started")
	ra, rb := fields(t, a.first, "ready", 2), fields(t, b.first, "ready", 2)
	addrA, addrB := ra[0], rb[0]
	assert.Equal(t, "ErrInsecure", ra[1], "node A without mutual TLS on %s", ipA)
	assert.Equal(t, "ErrInsecure", rb[1], "node B without mutual TLS on %s", ipB)
	hostA, _, err := net.SplitHostPort(addrA)
	require.NoError(t, err)
	hostB, _, err := net.SplitHostPort(addrB)
	require.NoError(t, err)
	require.Equal(t, ipA.String(), hostA)
	require.Equal(t, ipB.String(), hostB)

	// Each node's cluster registry has the other as peer; each runs a
	// server and the management endpoint, actions allowed.
	srvA := fields(t, a.do("join %s", addrB), "ok", 1)[0]
	srvB := fields(t, b.do("join %s", addrA), "ok", 1)[0]
	require.True(t, strings.HasPrefix(srvA, ipA.String()+":"), srvA)
	require.True(t, strings.HasPrefix(srvB, ipB.String()+":"), srvB)
	eventually(t, "the nodes see each other up over mutual TLS", func() string {
		return a.do("up") + " | " + b.do("up")
	}, "ok "+addrB+" | ok "+addrA)

	step("cluster up")

	// 2. A device in A's namespace connects to B's server, across the
	// veth pair, and logs in: B registers the connection as device-7 in
	// its cluster registry.
	dev := startChild(t, ns1, "device")
	require.Equal(t, "ready", dev.first)
	d := fields(t, dev.do("dial %s", srvB), "ok", 2)
	devAddr := d[0]
	require.Equal(t, "welcome", d[1])
	devHost, _, err := net.SplitHostPort(devAddr)
	require.NoError(t, err)
	require.Equal(t, ipA.String(), devHost, "the device connects from A's namespace")
	require.Equal(t, "ok ok device-7", dev.do("say login device-7"), "B registered the connection")
	require.Equal(t, "ok still-there", dev.do("say still-there"), "echo")

	step("device-7 registered on B")

	// 3. A resolves device-7 from its copy of the cluster registry: held
	// by node B, for the device's connection; and calls it by name.
	eventually(t, "A resolves device-7 to B's connection of the device", func() string {
		return a.do("lookup device-7")
	}, fmt.Sprintf("ok %s %s %s", addrB, addrB, devAddr))
	require.Equal(t, "ok node-B:ping", a.do("call device-7 ping"), "A calls the connection on B by its cluster name")
	require.Equal(t, "ok node-B:pong", b.do("call device-7 pong"), "and B does, locally")

	// 4. etcpctl in A's namespace, with a certificate of the same CA for
	// A's address, supervises B.
	step("A called device-7")
	bin := ctlBin()
	step("etcpctl built")
	tlsArgs := []string{"-node", addrB, "-ca", f("ca.pem"), "-cert", f("a.pem"), "-key", f("a-key.pem"),
		"-listen", net.JoinHostPort(ipA.String(), "0")}
	ctl := func(args ...string) string {
		t.Helper()
		r := etcpctl(t, bin, ns1, append(append([]string{}, tlsArgs...), args...)...)
		require.Zero(t, r.code, "etcpctl %v\nstdout:\n%s\nstderr:\n%s", args, r.stdout, r.stderr)
		return r.stdout
	}
	hello := ctl("hello")
	assert.Regexp(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(addrB)+`\s+1\s+true\s+true\s+true\s+srv\b`), hello,
		"hello: node B, protocol 1, actions, mutual TLS, cluster, server srv")

	// conns lists B's connections: the device's, from A's address.
	conns := ctl("conns")
	row := regexp.MustCompile(`(?m)^(srv/\d+)\s+server\s+` + regexp.QuoteMeta(devAddr) + `\s+up\s`).FindStringSubmatch(conns)
	require.NotNil(t, row, "conns shows no connection from %s:\n%s", devAddr, conns)
	handle := row[1]
	assert.Contains(t, conns, "1 of 1 matched, of 1")

	// The name finds that connection on B: inspect name:device-7.
	insp := ctl("inspect", "name:device-7")
	assert.Regexp(t, `(?m)^conn\s+`+regexp.QuoteMeta(handle)+`$`, insp)
	assert.Regexp(t, `(?m)^peer\s+`+regexp.QuoteMeta(devAddr)+`$`, insp)
	assert.Regexp(t, `(?m)^node\s+`+regexp.QuoteMeta(addrB)+`$`, insp)

	// call by name reaches B's handler.
	assert.Equal(t, "node-B:over-etcpctl (string)\n", ctl("call", "name:device-7", "over-etcpctl"))

	// A certificate and CA of another CA are refused: etcpctl does not
	// trust B's certificate (x509: certificate signed by unknown
	// authority), and B would not trust etcpctl's.
	r := etcpctl(t, bin, ns1, "-node", addrB, "-ca", f("other-ca.pem"), "-cert", f("x.pem"), "-key", f("x-key.pem"),
		"-listen", net.JoinHostPort(ipA.String(), "0"), "conns")
	assert.Equal(t, 1, r.code, "etcpctl with another CA's certificate: stdout %q stderr %q", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "refused", "another CA's certificate")
	assert.Empty(t, r.stdout)

	// B's CA but a certificate another CA signed: B refuses (Go's TLS
	// client does not even offer a certificate whose issuer is not among
	// the CAs B's request names: "tls: certificate required").
	r = etcpctl(t, bin, ns1, "-node", addrB, "-ca", f("ca.pem"), "-cert", f("x.pem"), "-key", f("x-key.pem"),
		"-listen", net.JoinHostPort(ipA.String(), "0"), "conns")
	assert.Equal(t, 1, r.code, "etcpctl with a certificate B does not trust: stdout %q stderr %q", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "refused", "a certificate B does not trust")
	assert.Empty(t, r.stdout)

	// Without mutual TLS (cookie mode) etcpctl will not listen on A's
	// address...
	r = etcpctl(t, bin, ns1, "-node", addrB, "-listen", net.JoinHostPort(ipA.String(), "0"), "conns")
	assert.Equal(t, 1, r.code, "etcpctl in cookie mode on %s: stdout %q stderr %q", ipA, r.stdout, r.stderr)
	assert.Contains(t, r.stderr, registry.ErrInsecure.Error())
	assert.Empty(t, r.stdout)
	// ...and on loopback, B (TLS) refuses its cookie handshake.
	r = etcpctl(t, bin, ns1, "-node", addrB, "conns")
	assert.Equal(t, 1, r.code, "etcpctl in cookie mode on loopback: stdout %q stderr %q", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "refused", "cookie mode against a TLS node")
	assert.Empty(t, r.stdout)

	// The device is still B's, and callable from A, after all that.
	require.Equal(t, "ok node-B:again", a.do("call device-7 again"))

	step("etcpctl done")

	// 5. Every process quits cleanly; the namespaces go.
	dev.quit()
	step("device quit")
	a.quit()
	step("A quit")
	b.quit()
	step("B quit")
	deleteNetns(t, ns1)
	deleteNetns(t, ns2)
	step("namespaces deleted")
}
