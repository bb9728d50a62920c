package manage_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/transport"
)

// The node under supervision runs in a child process: the test binary
// run again with envChild set. One protoactor remote per process (see
// registry's nodetest): the test's own node is the only one in the
// parent. The child serves one command per stdin line, one reply line
// each.

// Environment of a child.
const (
	envChild    = "ETCP_MANAGE_CHILD"    // set: run as a managed node
	envActions  = "ETCP_MANAGE_ACTIONS"  // "1": WithActions
	envEndpoint = "ETCP_MANAGE_ENDPOINT" // "0": no endpoint at all
	envTLS      = "ETCP_MANAGE_TLS"      // a directory with ca.pem, cert.pem, key.pem: mutual TLS
	envCluster  = "ETCP_MANAGE_CLUSTER"  // "1": a cluster registry; envPeers its seeds
	envPeers    = "ETCP_MANAGE_PEERS"
	envPrefix   = "ETCP_MANAGE_PREFIX" // prefixes the names of its servers, pool and client
)

// served is the servers' handler: it greets every peer with "hello",
// echoes lines as "echo: LINE", answers calls with the request's type
// and value, records casts and Terminate reasons, and reports a state.
type served struct {
	behaviours.Base
	lines int
	calls int
}

type servedState struct {
	Lines, Calls int
}

var (
	recMu      sync.Mutex
	casts      []string
	terminated []string
)

func record(list *[]string, s string) {
	recMu.Lock()
	*list = append(*list, s)
	recMu.Unlock()
}

func recorded(list *[]string) string {
	recMu.Lock()
	defer recMu.Unlock()
	return strings.Join(*list, "|")
}

func (*served) Init(behaviours.Conn, any) behaviours.Result { return behaviours.Send([]byte("hello")) }

func (h *served) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.lines++
	return behaviours.Send(append([]byte("echo: "), p...))
}

func (h *served) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	h.calls++
	switch req {
	case "err":
		return behaviours.Reply(errors.New("bad request"))
	case "bytes":
		return behaviours.Reply([]byte{0, 1, 2})
	case "struct":
		return behaviours.Reply(servedState{Lines: 7})
	}
	return behaviours.Reply(fmt.Sprintf("%T:%s", req, req))
}

func (h *served) HandleCast(c behaviours.Conn, msg any) behaviours.Result {
	record(&casts, fmt.Sprintf("%d:%T:%s", c.ID(), msg, msg))
	return behaviours.Continue()
}

func (h *served) Terminate(c behaviours.Conn, reason error) error {
	record(&terminated, fmt.Sprintf("%d:%v", c.ID(), reason))
	return reason
}

func (h *served) State() any { return servedState{Lines: h.lines, Calls: h.calls} }

// dialled is the handler of the child's own client and pool connections.
type dialled struct{ behaviours.Base }

var lines = actors.WithSocket(transport.WithFramer(transport.Line()))

// runChild is the managed node; it returns when stdin ends or says quit.
func runChild() {
	out := bufio.NewWriter(os.Stdout)
	reply := func(s string) {
		fmt.Fprintln(out, s)
		out.Flush()
	}
	fail := func(err error) {
		reply("error " + err.Error())
		os.Exit(1)
	}
	sys := actors.NewSystem(nil, actor.WithDeadLetterThrottleInterval(time.Millisecond))
	nopts := []registry.NodeOption{registry.WithConnectRetries(1)}
	if dir := os.Getenv(envTLS); dir != "" {
		srvCfg, cliCfg, err := loadTLS(dir)
		if err != nil {
			fail(err)
		}
		nopts = append(nopts, registry.WithMutualTLS(srvCfg, cliCfg))
	}
	node, err := registry.StartNode(sys, nopts...)
	if err != nil {
		fail(err)
	}
	var cl *registry.Cluster
	if os.Getenv(envCluster) == "1" {
		var peers []string
		if p := os.Getenv(envPeers); p != "" {
			peers = strings.Split(p, ",")
		}
		if cl, err = registry.NewCluster(node, peers, registry.WithHeartbeat(100*time.Millisecond, time.Second)); err != nil {
			fail(err)
		}
		registry.SetDefault(sys, cl)
	}
	// A cluster registry holds every connection of every node under its
	// PID's id: the nodes of one cluster need names of their own.
	prefix := os.Getenv(envPrefix)
	newServed := func() behaviours.Handler { return &served{} }
	srv, err := server.Start(sys, newServed, nil, "127.0.0.1:0", server.WithName(prefix+"srv"), lines)
	if err != nil {
		fail(err)
	}
	spare, err := server.Start(sys, newServed, nil, "127.0.0.1:0", server.WithName(prefix+"spare"), lines, server.WithAcceptors(2))
	if err != nil {
		fail(err)
	}
	newDialled := func() behaviours.Handler { return &dialled{} }
	pl, err := pool.Start(sys, newDialled, nil, []string{srv.Addr().String()}, pool.WithName(prefix+"pl"), lines)
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pl.WaitUp(ctx, 1); err != nil {
		fail(err)
	}
	if _, err := client.Dial(ctx, sys.Root, srv.Addr().String(), newDialled, nil, client.WithName(prefix+"cli"), lines); err != nil {
		fail(err)
	}
	var ep *manage.Endpoint
	if os.Getenv(envEndpoint) != "0" {
		opts := []manage.Option{manage.WithServers(srv, spare), manage.WithPools(pl)}
		if os.Getenv(envActions) == "1" {
			opts = append(opts, manage.WithActions())
		}
		if ep, err = manage.Enable(node, opts...); err != nil {
			fail(err)
		}
	}
	var held []net.Conn
	reply(fmt.Sprintf("ready %s %s %s", node.Address(), srv.Addr(), spare.Addr()))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "quit":
			goto out
		case "mode": // mode NAME: a server's mode
			for _, sv := range []*server.Server{srv, spare} {
				if sv.Name() == prefix+f[1] {
					m, _ := sv.Mode()
					reply("ok " + m.String())
				}
			}
		case "panics":
			reply(fmt.Sprint("ok ", node.Stats().Panics))
		case "casts":
			reply("ok " + recorded(&casts))
		case "terminated":
			reply("ok " + recorded(&terminated))
		case "open": // open N [ADDR]: N more peers of srv (or of ADDR), held by this process
			n, _ := strconv.Atoi(f[1])
			to := srv.Addr().String()
			if len(f) > 2 {
				to = f[2]
			}
			for range n {
				c, err := net.Dial("tcp", to)
				if err != nil {
					reply("error " + err.Error())
					continue
				}
				held = append(held, c)
			}
			reply("ok")
		default:
			reply("error unknown command " + f[0])
		}
	}
out:
	for _, c := range held {
		c.Close()
	}
	if ep != nil {
		_ = ep.Close()
	}
	if cl != nil {
		_ = cl.Close()
	}
	stop, cancelStop := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelStop()
	_ = pl.Stop(stop, nil)
	_ = srv.Stop(stop, nil)
	_ = spare.Stop(stop, nil)
	node.Shutdown()

	reply("bye")
}

// loadTLS reads a node's mutual TLS configs from dir.
func loadTLS(dir string) (srv, cli *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, errors.New("no CA certificate in ca.pem")
	}
	srv = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, MinVersion: tls.VersionTLS12}
	cli = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	return srv, cli, nil
}

// child is a managed node seen from the test.
type child struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan struct{}
	mu    sync.Mutex
	// From its first line: its node's address, and its servers'.
	Node, Srv, Spare string
}

// startChild runs a managed node with env added to its environment.
func startChild(t testing.TB, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The race detector sleeps a second at exit unless told not to.
	cmd.Env = append(append(os.Environ(), envChild+"=1", "GORACE=atexit_sleep_ms=0"), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{t: t, cmd: cmd, in: in, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.quit)
	first := c.read()
	f := strings.Fields(first)
	require.True(t, len(f) == 4 && f[0] == "ready", "child: %s", first)
	c.Node, c.Srv, c.Spare = f[1], f[2], f[3]
	return c
}

func (c *child) read() string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		require.True(c.t, ok, "the child ended")
		return l
	case <-time.After(30 * time.Second):
		c.t.Fatal("the child did not answer")
	}
	return ""
}

// do sends a command and returns the reply after "ok ".
func (c *child) do(format string, args ...any) string {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := fmt.Fprintf(c.in, format+"\n", args...)
	require.NoError(c.t, err)
	r := c.read()
	require.True(c.t, strings.HasPrefix(r, "ok"), "child: %s", r)
	return strings.TrimPrefix(strings.TrimPrefix(r, "ok"), " ")
}

// quit asks the child to stop and waits (then kills it).
func (c *child) quit() {
	c.mu.Lock()
	_, _ = fmt.Fprintln(c.in, "quit")
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	for range c.lines {
	}
}
