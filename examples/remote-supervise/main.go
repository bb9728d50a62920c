// Command remote-supervise is a line-protocol gateway whose connections
// are supervised from another process: it serves the management endpoint
// (package server/manage) with actions allowed, on loopback, and etcpctl
// (examples/etcpctl) lists, inspects, stops, sleeps, wakes and drains it.
//
//	go run ./examples/remote-supervise -addr 127.0.0.1:7000 -manage 127.0.0.1:7101
//	go run ./examples/etcpctl -node 127.0.0.1:7101 conns
//
// A peer says "login NAME" to be registered under NAME (etcpctl's
// name:NAME then finds it), and any other line is answered with
// "ok N" (the lines it sent so far). Its first lines on stdout are
// "listening ADDR" and "manage ADDR"; then one line "ended ID: REASON"
// for every connection that ends, written by its Terminate, and "stopped"
// once the server has been stopped or drained through the endpoint, which
// stays up, showing the server closed, until SIGINT or SIGTERM: then it
// drains the server for -grace (if it still runs) and exits with status 0.
//
// With -demo N it also dials N devices to itself, so that there is
// something to supervise: device i (from 1) logs in as sensor-i, door-i
// or thermostat-i in turn, then sends a reading every -demo-every
// ("temp 21.5", "open"...), until its connection ends (it does not
// redial) or the process stops.
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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/transport"
)

// device is one peer's connection.
type device struct {
	behaviours.Base
	name  string
	lines int
	out   *lockedWriter
}

// deviceState is what etcpctl inspect shows of a connection.
type deviceState struct {
	Name  string
	Lines int
}

func (d *device) Init(behaviours.Conn, any) behaviours.Result {
	return behaviours.Send([]byte("welcome"))
}

func (d *device) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	d.lines++
	if name, ok := strings.CutPrefix(string(p), "login "); ok {
		if err := c.Register(name); err != nil {
			return behaviours.Send([]byte("error " + err.Error()))
		}
		d.name = name
	}
	return behaviours.Send(fmt.Appendf(nil, "ok %d", d.lines))
}

// HandleCall answers an operator's call: "whoami" with the name.
func (d *device) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	if req == "whoami" {
		return behaviours.Reply(d.name)
	}
	return behaviours.Reply(fmt.Errorf("unknown request %v", req))
}

// HandleCast sends the operator's message down to the peer.
func (d *device) HandleCast(_ behaviours.Conn, msg any) behaviours.Result {
	return behaviours.Send(fmt.Appendf(nil, "notice %s", msg))
}

func (d *device) State() any { return deviceState{Name: d.name, Lines: d.lines} }

func (d *device) Terminate(c behaviours.Conn, reason error) error {
	r := "normal"
	if reason != nil {
		r = reason.Error()
	}
	d.out.printf("ended %d: %s\n", c.ID(), r)
	return reason
}

// lockedWriter serialises the lines of concurrent Terminates.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "remote-supervise:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("remote-supervise", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "address the gateway listens on (port 0: any)")
	manageAddr := fs.String("manage", "127.0.0.1:7101", "loopback address of the management endpoint's node (port 0: any)")
	name := fs.String("name", "gateway", "the server's name")
	grace := fs.Duration("grace", 5*time.Second, "on SIGTERM, how long connections may take to end")
	demo := fs.Int("demo", 0, "dial this many demo devices to the gateway (sensor-1, door-2, thermostat-3, ...)")
	demoEvery := fs.Duration("demo-every", 300*time.Millisecond, "how often a demo device sends a reading")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *demo < 0 || *demoEvery <= 0 {
		return fmt.Errorf("-demo %d -demo-every %v: want -demo ≥ 0 and -demo-every > 0", *demo, *demoEvery)
	}
	out := &lockedWriter{w: stdout}
	sys := actors.NewSystem(nil)
	defer sys.Shutdown()
	// The node first: protoactor remote sets the system's address as it
	// starts, which spawning connections read.
	node, err := registry.StartNode(sys, registry.WithListen(*manageAddr))
	if err != nil {
		return err
	}
	defer node.Shutdown()
	srv, err := server.Start(sys, func() behaviours.Handler { return &device{out: out} }, nil, *addr,
		server.WithName(*name), actors.WithSocket(transport.WithFramer(transport.Line())))
	if err != nil {
		return err
	}
	ep, err := manage.Enable(node, manage.WithServers(srv), manage.WithActions())
	if err != nil {
		return errors.Join(err, srv.Stop(context.Background(), nil))
	}
	defer ep.Close()
	out.printf("listening %s\n", srv.Addr())
	out.printf("manage %s\n", node.Address())
	devices, err := startDemo(srv.Addr().String(), *demo, *demoEvery)
	if err != nil {
		return errors.Join(err, srv.Stop(context.Background(), nil))
	}
	defer devices.stop()
	select {
	case <-srv.Done(): // stopped or drained through the endpoint
		out.printf("stopped\n")
		<-ctx.Done()
		return nil
	case <-ctx.Done():
	}
	devices.stop() // they would hold the drain up for the whole grace
	gctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	err = srv.Shutdown(gctx)
	if err != nil && gctx.Err() != nil && errors.Is(err, gctx.Err()) {
		// Connections still open when the grace ended were stopped: what
		// a signal asks for, so the exit stays clean.
		slog.New(slog.NewTextHandler(stderr, nil)).Warn(
			"remote-supervise: stopped the connections still open after the grace", "grace", *grace, "err", err)
		return nil
	}
	return err
}
