package security

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
)

// Every node here is an OS process of its own: the test binary run again
// with childEnv naming its part, "victim" or "attacker", configured by
// the env variables below, answering one command line at a time.
const (
	childEnv    = "ETCP_SECURITY_CHILD"
	tlsDirEnv   = "ETCP_SECURITY_TLS"    // a directory with ca.pem, cert.pem, key.pem: mutual TLS
	cookieEnv   = "ETCP_SECURITY_COOKIE" // the cookie, without TLS (default: the user's)
	rolesEnv    = "ETCP_SECURITY_ROLES"  // victim: "default=read,ops=all"
	actionsEnv  = "ETCP_SECURITY_ACTIONS"
	plainEnv    = "ETCP_SECURITY_PLAIN" // protoactor's own remote, unguarded (the baseline)
	listenAddr  = "127.0.0.1:0"
	replyWait   = 10 * time.Second
	requestWait = 3 * time.Second
)

func TestMain(m *testing.M) {
	if part := os.Getenv(childEnv); part != "" {
		os.Exit(serveChild(part))
	}
	goleak.VerifyTestMain(m)
}

// child is a node process the test drives.
type child struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	first []string // the fields of its first line: "ready ADDR..."
}

// start runs part with env and waits for its "ready" line.
func start(t testing.TB, part string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, childEnv+"="+part)...)
	cmd.Stderr = &prefixWriter{t: t, prefix: part + ": "}
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	outR, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{t: t, cmd: cmd, in: in, out: bufio.NewScanner(outR)}
	t.Cleanup(c.quit)
	line := c.line()
	require.True(t, strings.HasPrefix(line, "ready "), "%s: %s", part, line)
	c.first = strings.Fields(line)[1:]
	return c
}

func (c *child) line() string {
	got := make(chan string, 1)
	go func() {
		if c.out.Scan() {
			got <- c.out.Text()
		} else {
			got <- "exited: " + fmt.Sprint(c.out.Err())
		}
	}()
	select {
	case l := <-got:
		return l
	case <-time.After(replyWait):
		c.t.Fatalf("no reply within %v", replyWait)
		return ""
	}
}

// do sends one command and returns its reply line.
func (c *child) do(format string, args ...any) string {
	c.t.Helper()
	_, err := fmt.Fprintf(c.in, format+"\n", args...)
	require.NoError(c.t, err)
	return c.line()
}

func (c *child) quit() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.in.Close() // end of input: the child closes and exits
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Errorf("child exited: %v", err)
		}
	case <-time.After(replyWait):
		_ = c.cmd.Process.Kill()
		<-done
		c.t.Errorf("child did not exit")
	}
}

// prefixWriter passes a child's stderr to the test log.
type prefixWriter struct {
	t      testing.TB
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}

// serveChild is a child's life: start, answer commands, close.
func serveChild(part string) int {
	sys := actors.NewSystem(nil)
	node, err := startNode(sys)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	var cmds map[string]func(args []string) string
	var closeFn func()
	switch part {
	case "victim":
		cmds, closeFn, err = victim(sys, node)
	case "attacker":
		cmds, closeFn = attacker(sys, node)
	default:
		err = fmt.Errorf("unknown part %q", part)
	}
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		fn, ok := cmds[f[0]]
		if !ok {
			fmt.Println("error unknown command", f[0])
			continue
		}
		fmt.Println(fn(f[1:]))
	}
	closeFn()
	node.Shutdown()
	if r := remote.GetRemote(sys); os.Getenv(plainEnv) != "" && r != nil {
		r.Shutdown(true)
	}
	sys.Shutdown()
	return 0
}

// startNode starts the child's node as its env says.
func startNode(sys *actor.ActorSystem) (*registry.Node, error) {
	if os.Getenv(plainEnv) != "" {
		remote.NewRemote(sys, remote.Configure("127.0.0.1", 0)).Start()
		return registry.AttachNode(sys)
	}
	opts := []registry.NodeOption{registry.WithListen(listenAddr), registry.WithConnectRetries(1)}
	if dir := os.Getenv(tlsDirEnv); dir != "" {
		server, client, err := tlsConfigs(dir)
		if err != nil {
			return nil, err
		}
		opts = append(opts, registry.WithMutualTLS(server, client))
	}
	if c := os.Getenv(cookieEnv); c != "" {
		opts = append(opts, registry.WithCookie(c))
	}
	if spec := os.Getenv(rolesEnv); spec != "" {
		roles, err := parseRoles(spec)
		if err != nil {
			return nil, err
		}
		opts = append(opts, registry.WithRoles(roles))
	}
	return registry.StartNode(sys, opts...)
}

func tlsConfigs(dir string) (*tls.Config, *tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(dir+"/cert.pem", dir+"/key.pem")
	if err != nil {
		return nil, nil, err
	}
	caPEM, err := os.ReadFile(dir + "/ca.pem")
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
			MinVersion: tls.VersionTLS12},
		&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// parseRoles reads "default=read,ops=all".
func parseRoles(spec string) (registry.Roles, error) {
	r := registry.Roles{Nodes: map[string]registry.Role{}}
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		role, err := registry.ParseRole(v)
		if err != nil {
			return r, err
		}
		if k == "default" {
			r.Default = role
		} else {
			r.Nodes[k] = role
		}
	}
	return r, nil
}

// infos counts the messages the victim's connections took as HandleInfo.
var infos atomic.Int64

// secretHandler is the victim's connection handler.
type secretHandler struct{ behaviours.Base }

func (secretHandler) HandleCall(_ behaviours.Conn, _ any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply("secret state")
}

func (secretHandler) HandleInfo(_ behaviours.Conn, msg any) behaviours.Result {
	if _, ok := msg.(*wrapperspb.StringValue); ok {
		infos.Add(1)
	}
	return behaviours.Continue()
}

// victim runs a server, named srv, with its management endpoint:
// "ready NODE SERVER".
func victim(sys *actor.ActorSystem, node *registry.Node) (map[string]func([]string) string, func(), error) {
	srv, err := server.Start(sys, func() behaviours.Handler { return secretHandler{} }, nil, listenAddr, server.WithName("srv"))
	if err != nil {
		return nil, nil, err
	}
	opts := []manage.Option{manage.WithServers(srv)}
	if os.Getenv(actionsEnv) != "" {
		opts = append(opts, manage.WithActions())
	}
	ep, err := manage.Enable(node, opts...)
	if err != nil {
		return nil, nil, err
	}
	fmt.Println("ready", node.Address(), srv.Addr())
	return map[string]func([]string) string{
			"stats": func([]string) string {
				s := node.Stats()
				return fmt.Sprintf("unauthenticated=%d refused=%d conns=%d infos=%d",
					s.Unauthenticated, s.Refused, srv.Info().Active, infos.Load())
			},
		}, func() {
			_ = ep.Close()
			_ = srv.Stop(context.Background(), nil)
		}, nil
}

// attacker tries what a node on the other end may try: "ready NODE".
func attacker(sys *actor.ActorSystem, node *registry.Node) (map[string]func([]string) string, func()) {
	fmt.Println("ready", node.Address())
	ctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), requestWait)
	}
	result := func(v any, err error) string {
		switch {
		case errors.Is(err, registry.ErrForbidden):
			return "forbidden " + err.Error()
		case err != nil:
			return "error " + err.Error()
		}
		return fmt.Sprint("ok ", v)
	}
	return map[string]func([]string) string{
		// list VICTIM: the PIDs of its connections, through its endpoint.
		"list": func(a []string) string {
			c, cancel := ctx()
			defer cancel()
			ids, err := listConns(c, node, a[0])
			if err != nil {
				return result(nil, err)
			}
			return "ok " + strings.Join(ids, " ")
		},
		// call VICTIM ID: a Call straight to a connection's actor.
		"call": func(a []string) string {
			c, cancel := ctx()
			defer cancel()
			return result(actors.Request(c, sys.Root, actor.NewPID(a[0], a[1]), &actors.Call{Request: "raw call"}))
		},
		// stop VICTIM ID: a Stop straight to a connection's actor.
		"stop": func(a []string) string {
			c, cancel := ctx()
			defer cancel()
			return result(actors.Request(c, sys.Root, actor.NewPID(a[0], a[1]), &actors.Stop{}))
		},
		// kill VICTIM ID: protoactor's own Stop and PoisonPill.
		"kill": func(a []string) string {
			sys.Root.Stop(actor.NewPID(a[0], a[1]))
			sys.Root.Poison(actor.NewPID(a[0], a[1]))
			return "sent"
		},
		// info VICTIM ID [SENDER-ADDR]: a message for HandleInfo, with a
		// sender PID on SENDER-ADDR if given.
		"info": func(a []string) string {
			pid := actor.NewPID(a[0], a[1])
			if len(a) > 2 {
				sys.Root.RequestWithCustomSender(pid, wrapperspb.String("forged"), actor.NewPID(a[2], "impostor"))
			} else {
				sys.Root.Send(pid, wrapperspb.String("genuine"))
			}
			return "sent"
		},
	}, func() {}
}

// listConns lists the PIDs of the connections of the node at addr
// through its management endpoint.
func listConns(ctx context.Context, node *registry.Node, addr string) ([]string, error) {
	cl, err := manage.Dial(ctx, node, addr)
	if err != nil {
		return nil, err
	}
	list, err := cl.Conns(ctx, manage.Query{})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(list.Conns))
	for _, cn := range list.Conns {
		ids = append(ids, cn.PID)
	}
	return ids, nil
}
