// Command embedded shows an etcp server living inside an existing
// protoactor application: the application's own actor (the "gateway")
// starts the server as its child, and the connections talk to another
// actor of the application (the "hub") with ordinary actor messages.
//
//	go run ./examples/embedded -addr 127.0.0.1:7001
//
// Every line a client sends goes to the hub, which numbers it across all
// clients and sends it back to the connection that sent it ("#N line").
// Its first line on stdout is "listening ADDR". On SIGINT or SIGTERM the
// application stops its gateway actor, and with it the server and every
// connection (each Terminate runs, each client sees the close); it exits
// with status 0.
package main

import (
	"context"
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
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

// line is what a connection tells the hub; numbered is the hub's answer,
// sent to the connection's PID (it reaches HandleInfo).
type (
	line struct {
		text string
		conn *actor.PID
	}
	numbered struct{ text string }
)

// hub numbers the lines of every connection: application state that
// lives in an ordinary actor, with no lock.
type hub struct{ n int }

func (h *hub) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*line); ok {
		h.n++
		ctx.Send(m.conn, &numbered{text: fmt.Sprintf("#%d %s", h.n, m.text)})
	}
}

// relay is the connection handler: lines go to the hub, its answers back
// to the client.
type relay struct {
	behaviours.Base
	hub *actor.PID
}

func (r *relay) Init(_ behaviours.Conn, arg any) behaviours.Result {
	r.hub = arg.(*actor.PID)
	return behaviours.Continue()
}

func (r *relay) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	c.Context().Send(r.hub, &line{text: string(p), conn: c.Self()})
	return behaviours.Continue()
}

func (r *relay) HandleInfo(_ behaviours.Conn, msg any) behaviours.Result {
	if m, ok := msg.(*numbered); ok {
		return behaviours.Send([]byte(m.text))
	}
	return behaviours.Continue()
}

// gateway is the application's actor that owns the server: started as
// its child, stopped with it.
type gateway struct {
	addr   string
	hub    *actor.PID
	logger *slog.Logger
	up     chan<- error
	srv    *server.Server
}

func (g *gateway) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		var err error
		g.srv, err = server.Start(ctx.ActorSystem(), func() behaviours.Handler { return &relay{} }, g.hub, g.addr,
			server.WithParent(ctx), server.WithName("lines"), actors.WithLogger(g.logger),
			actors.WithSocket(transport.WithFramer(transport.Line())))
		g.up <- err
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "embedded:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("embedded", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7001", "address to listen on (port 0 = any free port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("lib", "protoactor")
	}))
	defer sys.Shutdown()

	// The application: a hub, and a gateway that owns the server.
	hubPID, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &hub{} }), "hub")
	if err != nil {
		return err
	}
	up := make(chan error, 1)
	g := &gateway{addr: *addr, hub: hubPID, logger: logger, up: up}
	gw, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return g }), "gateway")
	if err != nil {
		return err
	}
	if err := <-up; err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening %s\n", g.srv.Addr())

	<-ctx.Done()
	// Stopping the application's actor stops the server it owns, and every
	// connection with it.
	if err := sys.Root.StopFuture(gw).Wait(); err != nil {
		return err
	}
	select {
	case <-g.srv.Done():
	case <-time.After(10 * time.Second):
		return errors.New("the server did not stop with its parent")
	}
	return sys.Root.StopFuture(hubPID).Wait()
}
