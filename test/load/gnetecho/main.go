// Command gnetecho holds the peers the load tool measures beside the etcp
// servers: an echo server on gnet v2 (the default) or on lesismal/nbio
// (-engine nbio, nbio.go), the event-loop libraries, beside the etcp and
// plain net echo servers; and, with -resp, a reference Redis-protocol
// server (resp.go) on gnet, on plain net (-engine net) or on tidwall/redcon
// (-engine redcon, redcon.go), beside examples/kv and redis-server.
//
//	go build -o /tmp/gnetecho . && /tmp/gnetecho -addr 127.0.0.1:0
//
// It lives in a module of its own so that none of these libraries becomes
// a dependency of the library. It keeps the load tool's server contract:
// the first line on stdout is "listening ADDR" with the bound address,
// every byte read is written back (or, with -resp, every command
// answered), and SIGTERM or SIGINT stops it with exit status 0 once the
// engine has shut down. On gnet it runs as a realistic gnet deployment
// does: with multicore on (one event loop per GOMAXPROCS), TCP_NODELAY
// (gnet's default), and gnet's log lines on stderr; nbio.go and redcon.go
// say how those run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "gnetecho:", err)
		os.Exit(1)
	}
}

// run serves until SIGTERM or SIGINT.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gnetecho", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "address to listen on (port 0 = any free port)")
	multicore := fs.Bool("multicore", true, "one event loop per GOMAXPROCS instead of one in all")
	pollers := fs.Int("pollers", 0, "-engine nbio: poller goroutines (0: nbio's default, NumCPU/4 and at least one)")
	resp := fs.Bool("resp", false, "serve the reference Redis-protocol subset instead of echoing (resp.go)")
	engine := fs.String("engine", "gnet", "gnet, or nbio; with -resp: gnet, net (one goroutine per connection) or redcon")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	case !*resp && *engine != "gnet" && *engine != "nbio":
		return fmt.Errorf("-engine %q: want gnet or nbio (net and redcon serve -resp only)", *engine)
	case *resp && *engine != "gnet" && *engine != "net" && *engine != "redcon":
		return fmt.Errorf("-engine %q with -resp: want gnet, net or redcon", *engine)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	switch *engine {
	case "nbio":
		return runNbio(*addr, *pollers, stdout, stderr, sigs)
	case "net":
		return runRespNet(*addr, stdout, sigs)
	case "redcon":
		return runRespRedcon(*addr, stdout, sigs)
	}

	h := &echo{stdout: stdout, booted: make(chan gnet.Engine, 1)}
	var handler gnet.EventHandler = h
	if *resp {
		handler = &respGnet{echo: h, db: newStore()}
	}
	logger := log.New(stderr, "gnetecho: ", log.LstdFlags)
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(handler, "tcp://"+*addr,
			gnet.WithMulticore(*multicore),
			gnet.WithLogger(stderrLogger{logger}))
	}()

	// OnBoot runs in Run's goroutine: when done is ready, h.err is set.
	var eng gnet.Engine
	select {
	case eng = <-h.booted:
	case err := <-done:
		if h.err != nil {
			return h.err
		}
		return fmt.Errorf("engine stopped before it booted: %v", err)
	}
	if h.err != nil {
		<-done
		return h.err
	}
	select {
	case <-sigs:
	case err := <-done:
		return fmt.Errorf("engine stopped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Stop(ctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return <-done
}

// runRespNet serves the reference Redis-protocol subset on plain net
// until a signal.
func runRespNet(addr string, stdout io.Writer, sigs <-chan os.Signal) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "listening %s\n", ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveRespNet(ln, newStore())
	}()
	<-sigs
	ln.Close()
	<-done
	return nil
}

// echo writes back everything it reads.
type echo struct {
	gnet.BuiltinEventEngine
	stdout io.Writer
	booted chan gnet.Engine
	err    error // set by OnBoot before booted is sent on
}

// OnBoot prints the bound address once the listener is open.
func (e *echo) OnBoot(eng gnet.Engine) gnet.Action {
	defer func() { e.booted <- eng }()
	addr, err := boundAddr(eng)
	if err == nil {
		_, err = fmt.Fprintf(e.stdout, "listening %s\n", addr)
	}
	if err != nil {
		e.err = err
		return gnet.Shutdown
	}
	return gnet.None
}

// OnTraffic echoes what has arrived.
func (e *echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, err := c.Next(-1)
	if err != nil {
		return gnet.Close
	}
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// boundAddr reads the listener's address from a duplicate of its
// descriptor, which is how a port 0 is resolved.
func boundAddr(eng gnet.Engine) (net.Addr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, fmt.Errorf("dup listener: %w", err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	return ln.Addr(), nil
}

// stderrLogger is gnet's logger on stderr: gnet logs to stdout by default,
// and stdout's first line belongs to the contract.
type stderrLogger struct{ l *log.Logger }

func (s stderrLogger) Debugf(string, ...any)        {}
func (s stderrLogger) Infof(f string, args ...any)  { s.l.Printf("info: "+f, args...) }
func (s stderrLogger) Warnf(f string, args ...any)  { s.l.Printf("warn: "+f, args...) }
func (s stderrLogger) Errorf(f string, args ...any) { s.l.Printf("error: "+f, args...) }
func (s stderrLogger) Fatalf(f string, args ...any) { s.l.Fatalf("fatal: "+f, args...) }
