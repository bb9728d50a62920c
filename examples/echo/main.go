// Command echo is an etcp echo server: every connection is an actor whose
// HandlePacket sends the packet back.
//
//	go run ./examples/echo -addr 127.0.0.1:7000
//
// Its first line on stdout is "listening ADDR" with the bound address; it
// echoes every byte until the peer closes, and stops cleanly (every
// connection's Terminate runs) with exit status 0 on SIGINT or SIGTERM.
// The project's load tool measures the library through this command, so
// its flags and that first line are a contract.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
)

// echo sends every packet back.
type echo struct{ behaviours.Base }

func (echo) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("lib", "protoactor")
	}))
	defer sys.Shutdown()

	factory := func() behaviours.Handler { return echo{} }
	srv, err := server.Start(sys, factory, nil, *addr,
		server.WithAcceptors(*acceptors), server.WithLogger(logger))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening %s\n", srv.Addr())
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Stop(stopCtx, nil)
}
