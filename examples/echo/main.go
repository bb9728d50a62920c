// Command echo is an etcp echo server: every connection is an actor whose
// HandlePacket sends the packet back.
//
//	go run ./examples/echo -addr 127.0.0.1:7000
//
// Its first line on stdout is "listening ADDR" with the bound address (then,
// with -manage, "manage ADDR": the management endpoint's node, for
// etcpctl -node ADDR; with -metrics, "metrics http://ADDR/metrics": the
// library's metrics as Prometheus text); it
// echoes every byte (or, with -framing, every frame, framed the same way)
// until the peer closes. On SIGINT or SIGTERM it stops accepting, lets
// connections finish for -grace, then stops what is left (every
// connection's Terminate runs, whatever the peers do) and exits with
// status 0.
// The project's load tool measures the library through this command, so
// its flags and that first line are a contract.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

// echo sends every packet back. In passive mode it asks for each next
// read; with hibernate it hibernates after every packet.
type echo struct {
	behaviours.Base
	passive, hibernate bool
	prefix             string // -name-conns: each connection registers as prefix-ID
}

func (e echo) Init(c behaviours.Conn, _ any) behaviours.Result {
	if e.prefix != "" {
		if err := c.Register(e.name(c)); err != nil {
			return behaviours.Stop(err)
		}
	}
	if e.passive {
		return behaviours.Recv(0, behaviours.Never)
	}
	return behaviours.Continue()
}

func (e echo) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	r := behaviours.Send(p)
	if e.passive {
		r = r.Recv(0, behaviours.Never)
	}
	if e.hibernate {
		r = r.Hibernate()
	}
	return r
}

// HandleCall answers any call with the connection's name (-name-conns):
// a way to reach one connection by name from any node and see that it
// answers. Without names, a call is unhandled (Base's answer).
func (e echo) HandleCall(c behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	if e.prefix != "" {
		return behaviours.Reply(e.name(c))
	}
	return e.Base.HandleCall(c, req, from)
}

// name is the name -name-conns gives connection c.
func (e echo) name(c behaviours.Conn) string { return fmt.Sprintf("%s-%d", e.prefix, c.ID()) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "address to listen on (port 0 = any free port)")
	acceptors := fs.Int("acceptors", server.DefaultAcceptors, "number of acceptor actors")
	listeners := fs.Int("listeners", server.DefaultListeners, "listening sockets sharing the address with SO_REUSEPORT (at most -acceptors)")
	framing := fs.String("framing", "raw", "framing: raw, line, 1, 2 or 4 (length-prefixed)")
	maxFrame := fs.Int("max-frame", transport.DefaultMaxFrame, "largest frame accepted, in bytes")
	passive := fs.Bool("passive", false, "read in passive mode, asking for each next read")
	useTLS := fs.Bool("tls", false, "serve TLS (a throwaway self-signed certificate unless -cert and -key)")
	certFile := fs.String("cert", "", "TLS certificate file (PEM), with -key")
	keyFile := fs.String("key", "", "TLS key file (PEM), with -cert")
	unixPath := fs.String("unix", "", "listen on this Unix socket path instead of -addr")
	eventLoops := fs.Int("event-loops", 0, "serve connections from this many event loops instead of a goroutine each (0: none)")
	hibernate := fs.Bool("hibernate", false, "hibernate after every packet")
	idleHibernate := fs.Duration("idle-hibernate", 0, "hibernate connections idle this long (0 = never)")
	maxConns := fs.Int("max-conns", 0, "most connections at once; more wait in the backlog (0 = no limit, server.NoLimit)")
	idleTimeout := fs.Duration("idle-timeout", 0, "close connections with no complete frame for this long (0 = never)")
	writeTimeout := fs.Duration("write-timeout", transport.DefaultWriteTimeout, "end a connection whose peer takes no byte for this long")
	grace := fs.Duration("grace", 5*time.Second, "on SIGTERM, how long connections may finish before they are stopped")
	reg := fs.String("registry", "local", "where connections are registered: local, none (no list), or cluster (with -manage: the node's cluster registry)")
	peers := fs.String("peers", "", "with -registry cluster: comma-separated addresses of nodes of the cluster to join (none for its first node)")
	nameConns := fs.String("name-conns", "", "register every connection as PREFIX-ID (its id in the server); a Call answers with that name")
	manageAddr := fs.String("manage", "", "serve the management endpoint at this loopback address, actions allowed (etcpctl -node ADDR)")
	metricsAddr := fs.String("metrics", "", "serve the library's metrics as Prometheus text at http://ADDR/metrics (none if unset)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	framer, err := transport.ParseFramer(*framing)
	if err != nil {
		return err
	}
	sock := []transport.Option{transport.WithFramer(framer), transport.WithMaxFrame(*maxFrame),
		transport.WithWriteTimeout(*writeTimeout)}
	if *passive {
		sock = append(sock, transport.WithPassive())
	}
	listenAddr := *addr
	switch {
	case *eventLoops < 0:
		return errors.New("-event-loops must not be negative")
	case *unixPath != "" && *useTLS:
		return errors.New("-unix and -tls cannot be combined")
	case *unixPath != "":
		sock = append(sock, transport.WithTransport(transport.Unix()))
		listenAddr = *unixPath
	case *useTLS:
		cert, err := loadCert(*certFile, *keyFile)
		if err != nil {
			return err
		}
		sock = append(sock, transport.WithTransport(transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	}
	if err := checkManage(*manageAddr); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var sysOpts []actor.ConfigOption
	var metrics *metricsServer
	if *metricsAddr != "" {
		if metrics, err = startMetrics(*metricsAddr); err != nil {
			return err
		}
		defer func() { _ = metrics.stop() }()
		sysOpts = append(sysOpts, actor.WithMetricProviders(metrics.provider))
	}
	sys := actors.NewSystem(logger, sysOpts...) // a peer leaving normally is no error (actors.SystemLogger)
	defer sys.Shutdown()
	node, err := startNode(sys, *manageAddr)
	if err != nil {
		return err
	}

	opts := []server.Option{server.WithAcceptors(*acceptors), server.WithListeners(*listeners),
		server.WithMaxConnections(limitFlag(*maxConns)),
		actors.WithLogger(logger), actors.WithSocket(sock...),
		actors.WithIdleHibernate(*idleHibernate), actors.WithIdleTimeout(*idleTimeout)}
	cl, err := joinCluster(node, *reg, *peers)
	if err != nil {
		if node != nil {
			node.Shutdown()
		}
		return err
	}
	switch *reg {
	case "local":
	case "none":
		opts = append(opts, actors.WithRegistry(registry.None()))
	case "cluster":
		opts = append(opts, actors.WithRegistry(cl))
	}
	if *eventLoops > 0 {
		opts = append(opts, actors.WithEventLoop(*eventLoops))
	}
	factory := func() behaviours.Handler { return echo{passive: *passive, hibernate: *hibernate, prefix: *nameConns} }
	srv, err := server.Start(sys, factory, nil, listenAddr, opts...)
	if err != nil {
		if cl != nil {
			_ = cl.Close()
		}
		if node != nil {
			node.Shutdown()
		}
		return err
	}
	fmt.Fprintf(stdout, "listening %s\n", srv.Addr())
	if node != nil {
		stopManage, err := serveManage(node, srv, cl, stdout)
		if err != nil {
			return errors.Join(err, srv.Stop(context.Background(), nil))
		}
		defer stopManage()
	}
	if cl != nil {
		// Deferred after the node's stop, so it runs first: the cluster
		// leaves before its node shuts down.
		defer func() { _ = cl.Close() }()
	}
	if metrics != nil {
		metrics.announce(stdout)
	}
	<-ctx.Done()
	// Stop accepting, let the connections finish for the grace, then stop
	// the rest: Shutdown interrupts whatever a peer still blocks.
	graceCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	err = srv.Shutdown(graceCtx)
	if err != nil && graceCtx.Err() != nil && errors.Is(err, graceCtx.Err()) {
		// Connections still open when the grace ended were stopped: what
		// a signal asks for, so the exit stays clean.
		logger.Warn("echo: stopped the connections still open after the grace", "grace", *grace, "err", err)
		return nil
	}
	return err
}

// loadCert reads -cert and -key, or makes a throwaway certificate.
func loadCert(certFile, keyFile string) (tls.Certificate, error) {
	if certFile == "" && keyFile == "" {
		return transport.SelfSigned()
	}
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, errors.New("-cert and -key go together")
	}
	return tls.LoadX509KeyPair(certFile, keyFile)
}

// limitFlag maps the -max-conns flag to a server option's value: the
// flag's 0 means no limit, the option's 0 the default.
func limitFlag(n int) int {
	if n == 0 {
		return server.NoLimit
	}
	return n
}
