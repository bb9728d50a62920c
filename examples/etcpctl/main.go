// Command etcpctl observes and supervises the etcp servers, pools and
// connections of another node through its management endpoint (package
// server/manage), using only the library's public API.
//
//	go run ./examples/etcpctl -node 127.0.0.1:7101 servers
//	go run ./examples/etcpctl -node 127.0.0.1:7101 conns -sort bytes -n 20
//	go run ./examples/etcpctl -node 127.0.0.1:7101 top -interval 1s
//
// It starts a node of its own on 127.0.0.1:0 to talk (the managed node
// answers over a connection it dials back to it, so -listen and -advertise
// must make it reachable when the managed node is on another host, which
// then also needs -ca, -cert and -key: mutual TLS). Tables are aligned
// with text/tabwriter; -json prints JSON instead. Exit status 1 on any
// error, 2 on a usage error.
//
// Commands (CONN is OWNER/ID as tables show it, a PID's id, or
// name:NAME):
//
//	hello                          what the endpoint is
//	servers                        servers, with -cluster every node's
//	acceptors SERVER               a server's acceptors
//	pools                          pools and their connections
//	clients                        client connections
//	conns [filters]                connections, top N (see conns -h)
//	top [filters]                  conns, refreshed every -interval in the terminal
//	inspect CONN                   statistics, handler state, last trace events
//	call CONN PAYLOAD              call the handler (PAYLOAD a string; -bytes: a []byte)
//	cast CONN PAYLOAD              cast to the handler
//	stop CONN                      stop a connection (-reason); stop -server NAME stops a server
//	hibernate CONN                 hibernate a connection; wake -conn CONN wakes it
//	trace CONN                     stream its trace events (-n, until interrupted); -on/-off keep or end tracing
//	sleep SERVER, wake SERVER      stop or resume accepting
//	limit SERVER N                 set the connection limit (0: none)
//	drain SERVER                   stop accepting, let connections end for -grace, stop the rest
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errShown):
		os.Exit(1)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "etcpctl:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "etcpctl:", err)
		os.Exit(1)
	}
}

// errUsage marks a usage error.
var errUsage = errors.New("usage")

// errShown marks an error the command has printed as its result (a failed
// call's): exit status 1, nothing more on stderr.
var errShown = errors.New("shown")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// cli is one invocation: its global flags, output and client.
type cli struct {
	stdout, stderr io.Writer
	json           bool
	cluster        bool
	timeout        time.Duration
	c              *manage.Client
}

// run runs one command until it is done or ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("etcpctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: etcpctl -node HOST:PORT [flags] COMMAND [args]\n\ncommands: hello servers acceptors pools clients conns top inspect call cast stop hibernate wake trace sleep limit drain\n\nflags:")
		fs.PrintDefaults()
	}
	nodeAddr := fs.String("node", "", "address of the node to supervise (its protoactor remote)")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	cluster := fs.Bool("cluster", false, "servers, pools, clients, conns, top: every node of the node's cluster")
	timeout := fs.Duration("timeout", 5*time.Second, "bound of each request")
	listen := fs.String("listen", registry.DefaultListen, "this command's own node listens here")
	advertise := fs.String("advertise", "", "the address the supervised node reaches this one at, if not -listen")
	caFile := fs.String("ca", "", "mutual TLS: the CA certificate (PEM) both nodes' certificates are signed by")
	certFile := fs.String("cert", "", "mutual TLS: this node's certificate (PEM)")
	keyFile := fs.String("key", "", "mutual TLS: this node's key (PEM)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usagef("no command")
	}
	if *nodeAddr == "" {
		return usagef("-node is required")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	h, ok := commands[cmd]
	if !ok {
		return usagef("unknown command %q", cmd)
	}

	nopts := []registry.NodeOption{registry.WithListen(*listen), registry.WithConnectRetries(1)}
	if *advertise != "" {
		nopts = append(nopts, registry.WithAdvertisedAddress(*advertise))
	}
	if *caFile != "" || *certFile != "" || *keyFile != "" {
		srvCfg, cliCfg, err := loadTLS(*caFile, *certFile, *keyFile)
		if err != nil {
			return err
		}
		nopts = append(nopts, registry.WithMutualTLS(srvCfg, cliCfg))
	}
	sys := actors.NewSystem(nil)
	defer sys.Shutdown()
	node, err := registry.StartNode(sys, nopts...)
	if err != nil {
		return err
	}
	defer node.Shutdown()
	dctx, cancel := context.WithTimeout(ctx, *timeout)
	c, err := manage.Dial(dctx, node, *nodeAddr)
	cancel()
	if err != nil {
		return err
	}
	x := &cli{stdout: stdout, stderr: stderr, json: *asJSON, cluster: *cluster, timeout: *timeout, c: c}
	return h(ctx, x, rest)
}

// loadTLS reads the files of mutual TLS.
func loadTLS(caFile, certFile, keyFile string) (srv, cli *tls.Config, err error) {
	if caFile == "" || certFile == "" || keyFile == "" {
		return nil, nil, usagef("-ca, -cert and -key go together")
	}
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

// req is a context for one request.
func (x *cli) req(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, x.timeout)
}

// parse parses a command's flags, which may come before, between or
// after its positional arguments, and wants exactly n of those (any
// number when n < 0).
func parse(fs *flag.FlagSet, args []string, n int, names string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if n >= 0 && len(pos) != n {
		return nil, usagef("%s wants %s", fs.Name(), names)
	}
	return pos, nil
}

// table writes rows aligned in columns.
func (x *cli) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func (x *cli) printJSON(v any) error {
	enc := json.NewEncoder(x.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// partial prints the nodes of a cluster-wide query that did not answer,
// and lets the answer through.
func (x *cli) partial(err error) error {
	var ce *manage.ClusterError
	if errors.As(err, &ce) {
		for _, n := range ce.Nodes {
			fmt.Fprintf(x.stderr, "etcpctl: node %s did not answer: %s\n", n.Node, n.Err)
		}
		return nil
	}
	return err
}

// size renders a byte count.
func size(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ago renders a duration for a table.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

var commands = map[string]func(context.Context, *cli, []string) error{
	"hello":     cmdHello,
	"servers":   cmdServers,
	"acceptors": cmdAcceptors,
	"pools":     cmdPools,
	"clients":   cmdClients,
	"conns":     cmdConns,
	"top":       cmdTop,
	"inspect":   cmdInspect,
	"call":      cmdCall,
	"cast":      cmdCast,
	"stop":      cmdStop,
	"hibernate": cmdHibernate,
	"wake":      cmdWake,
	"trace":     cmdTrace,
	"sleep":     cmdSleep,
	"limit":     cmdLimit,
	"drain":     cmdDrain,
}
