package netns

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/transport"
)

// The children's environment.
const (
	envIP    = "NETNS_IP"    // node: the address it listens on, in its namespace
	envLabel = "NETNS_LABEL" // node: what its handler's replies start with ("node-B")
	envCA    = "NETNS_CA"    // node: PEM files of mutual TLS
	envCert  = "NETNS_CERT"
	envKey   = "NETNS_KEY"
)

var children = map[string]func() *child{"node": nodeChild, "device": deviceChild}

// device is the servers' handler: "login NAME" registers the connection
// under NAME in the node's default registry (the cluster), other lines
// are echoed, and a call is answered with the node's label.
type device struct {
	behaviours.Base
	label string
}

func (*device) Init(behaviours.Conn, any) behaviours.Result {
	return behaviours.Send([]byte("welcome"))
}

func (d *device) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	if name, ok := strings.CutPrefix(string(p), "login "); ok {
		if err := c.Register(name); err != nil {
			return behaviours.Send([]byte("error " + err.Error()))
		}
		return behaviours.Send([]byte("ok " + name))
	}
	return behaviours.Send(p)
}

func (d *device) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply(fmt.Sprintf("%s:%v", d.label, req))
}

// nodeChild is a node: at start, StartNode on its address without
// mutual TLS (which must be refused), then with it; "join PEER" starts
// its cluster registry with PEER, a server and the management endpoint.
func nodeChild() *child {
	ip, label := os.Getenv(envIP), os.Getenv(envLabel)
	sys := actors.NewSystem(nil, actor.WithDeadLetterThrottleInterval(time.Millisecond))
	var (
		node *registry.Node
		reg  *registry.Cluster
		srv  *server.Server
		ep   *manage.Endpoint
	)
	c := &child{commands: map[string]func([]string) string{}}
	c.init = func() string {
		// Without mutual TLS, this address must be refused.
		insecure := "accepted"
		if n, err := registry.StartNode(sys, registry.WithListen(net.JoinHostPort(ip, "0"))); err == nil {
			n.Shutdown()
		} else if errors.Is(err, registry.ErrInsecure) {
			insecure = "ErrInsecure"
		} else {
			insecure = "other:" + err.Error()
		}
		srvCfg, cliCfg, err := loadTLS(os.Getenv(envCA), os.Getenv(envCert), os.Getenv(envKey))
		if err != nil {
			return "error " + err.Error()
		}
		// One connection try: once the other node has quit, the cluster
		// still greets it (a seed), and each failed try would hold this
		// node's Shutdown for 2 s (protoactor's endpoint writer).
		node, err = registry.StartNode(sys, registry.WithListen(net.JoinHostPort(ip, "0")),
			registry.WithMutualTLS(srvCfg, cliCfg), registry.WithConnectRetries(1))
		if err != nil {
			return "error " + err.Error()
		}
		return fmt.Sprintf("ready %s %s", node.Address(), insecure)
	}
	c.commands["join"] = func(a []string) string {
		var err error
		if reg, err = registry.NewCluster(node, a, registry.WithHeartbeat(200*time.Millisecond, 5*time.Second)); err != nil {
			return "error " + err.Error()
		}
		registry.SetDefault(sys, reg) // connections register their names there
		srv, err = server.Start(sys, func() behaviours.Handler { return &device{label: label} }, nil,
			net.JoinHostPort(ip, "0"), server.WithName("srv"), actors.WithSocket(transport.WithFramer(transport.Line())))
		if err != nil {
			return "error " + err.Error()
		}
		if ep, err = manage.Enable(node, manage.WithServers(srv), manage.WithActions()); err != nil {
			return "error " + err.Error()
		}
		return "ok " + srv.Addr().String()
	}
	// up: the cluster members this node has heard from.
	c.commands["up"] = func([]string) string {
		ms, err := reg.Members()
		if err != nil {
			return "error " + err.Error()
		}
		var up []string
		for _, m := range ms {
			if m.Up {
				up = append(up, m.Address)
			}
		}
		return "ok " + strings.Join(up, ",")
	}
	// lookup NAME: the entry as this node's copy of the cluster has it.
	c.commands["lookup"] = func(a []string) string {
		e, err := reg.Lookup(a[0])
		if err != nil {
			return "error " + err.Error()
		}
		return fmt.Sprintf("ok %s %s %s", e.Node, e.PID.Address, e.Peer)
	}
	// call NAME PAYLOAD: a call to the connection registered as NAME,
	// wherever it is.
	c.commands["call"] = func(a []string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := client.Call(ctx, sys.Root, client.Name(a[0]), a[1])
		if err != nil {
			return "error " + err.Error()
		}
		return fmt.Sprintf("ok %v", r)
	}
	c.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if srv != nil {
			_ = srv.Stop(ctx, nil)
		}
		if ep != nil {
			_ = ep.Close()
		}
		if reg != nil {
			_ = reg.Close()
		}
		if node != nil {
			node.Shutdown()
		}
		sys.Shutdown()
	}
	return c
}

// deviceChild is a TCP client: "dial ADDR" connects and reads the
// welcome, "say LINE" writes a line and returns the line read back.
func deviceChild() *child {
	var conn net.Conn
	var r *bufio.Reader
	c := &child{init: func() string { return "ready" }, commands: map[string]func([]string) string{}}
	c.commands["dial"] = func(a []string) string {
		var err error
		if conn, err = net.DialTimeout("tcp", a[0], 10*time.Second); err != nil {
			return "error " + err.Error()
		}
		r = bufio.NewReader(conn)
		l, err := readLine(conn, r)
		if err != nil {
			return "error " + err.Error()
		}
		return fmt.Sprintf("ok %s %s", conn.LocalAddr(), l)
	}
	c.commands["say"] = func(a []string) string {
		if _, err := conn.Write([]byte(strings.Join(a, " ") + "\n")); err != nil {
			return "error " + err.Error()
		}
		l, err := readLine(conn, r)
		if err != nil {
			return "error " + err.Error()
		}
		return "ok " + l
	}
	c.close = func() {
		if conn != nil {
			_ = conn.Close()
		}
	}
	return c
}

func readLine(conn net.Conn, r *bufio.Reader) (string, error) {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := r.ReadString('\n')
	return strings.TrimSuffix(l, "\n"), err
}

// loadTLS reads mutual TLS files as etcpctl does.
func loadTLS(caFile, certFile, keyFile string) (srv, cli *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, err
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("no certificate in %s", caFile)
	}
	srv = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, MinVersion: tls.VersionTLS12}
	cli = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	return srv, cli, nil
}
