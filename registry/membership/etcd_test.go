package membership_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// etcdServer is a real etcd (Debian's etcd-server), one member on free
// loopback ports with a data directory of the test's.
type etcdServer struct {
	cmd      *exec.Cmd
	Endpoint string // host:port of its client API
	done     chan struct{}
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd starts etcd and waits until it serves clients; it is
// stopped and its data removed when the test ends. The test is skipped
// when etcd is not installed (.ci/run installs it).
func startEtcd(t *testing.T) *etcdServer {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (Debian: apt-get install etcd-server; .ci/run installs it)")
	}
	client := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin,
		"--name", "etcp-test",
		"--data-dir", filepath.Join(t.TempDir(), "etcd"),
		"--listen-client-urls", "http://"+client,
		"--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "etcp-test="+peer,
		"--listen-metrics-urls", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		"--logger", "zap", "--log-outputs", "stderr",
	)
	out, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &etcdServer{cmd: cmd, Endpoint: client, done: make(chan struct{})}
	ready := make(chan struct{})
	var log strings.Builder
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if !signalled {
				log.WriteString(line + "\n")
				if strings.Contains(line, "serving client traffic") {
					signalled = true
					close(ready)
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("etcd ended before serving clients:\n%s", log.String())
	case <-time.After(30 * time.Second):
		t.Fatal("etcd did not serve clients within 30 s")
	}
	return s
}

// etcdVersion is what `etcd --version` prints first, for the log.
func etcdVersion() string {
	out, err := exec.Command("etcd", "--version").Output()
	if err != nil {
		return err.Error()
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}
