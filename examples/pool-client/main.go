// Command pool-client sends messages through a pool of connections to
// the echo example and checks every echo.
//
//	go run ./examples/echo -addr 127.0.0.1:7000
//	go run ./examples/pool-client -addr 127.0.0.1:7000 -conns 4 -n 1000
//
// Each message is a pool.Call: the pool picks a connection (round-robin)
// and its handler writes the message and answers the call once the same
// bytes have come back. The echo server uses raw framing, so replies may
// arrive split or merged: the handler matches them by length, in order.
// Every failed message is reported on stderr; the last line on stdout
// sums up, and the exit status is 1 if any message failed.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/pool"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pool-client:", err)
		os.Exit(1)
	}
}

// errMismatch: the bytes that came back are not the ones sent.
var errMismatch = errors.New("echo differs from the message")

// echoCaller writes each call's message and answers the call when the
// echo is complete. Its fields are the connection's state: the calls
// waiting, oldest first, and the echoed bytes not yet matched.
type echoCaller struct {
	behaviours.Base
	waiting []pending
	got     []byte
}

type pending struct {
	from behaviours.From
	msg  []byte
}

func (h *echoCaller) HandleCall(_ behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	msg, ok := req.([]byte)
	if !ok || len(msg) == 0 {
		return behaviours.Reply(fmt.Errorf("want a non-empty []byte, got %T", req))
	}
	h.waiting = append(h.waiting, pending{from, msg})
	return behaviours.Send(msg)
}

func (h *echoCaller) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.got = append(h.got, p...)
	r := behaviours.Continue()
	for len(h.waiting) > 0 && len(h.got) >= len(h.waiting[0].msg) {
		w := h.waiting[0]
		h.waiting = h.waiting[1:]
		n := len(w.msg)
		if bytes.Equal(h.got[:n], w.msg) {
			r = r.ReplyTo(w.from, n)
		} else {
			r = r.ReplyTo(w.from, fmt.Errorf("%w: sent %q, got %q", errMismatch, w.msg, h.got[:n]))
		}
		h.got = h.got[n:]
	}
	if len(h.waiting) == 0 && len(h.got) > 0 {
		return r.Stop(fmt.Errorf("%d bytes came back that were never sent", len(h.got)))
	}
	return r
}

// Terminate fails the calls still waiting: their echo will not come.
func (h *echoCaller) Terminate(c behaviours.Conn, reason error) error {
	for _, w := range h.waiting {
		c.ReplyTo(w.from, fmt.Errorf("connection ended (%v) before the echo", reason))
	}
	h.waiting = nil
	return reason
}

// run makes the pool, sends the messages and reports.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pool-client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "address of the echo server")
	conns := fs.Int("conns", 4, "connections in the pool")
	n := fs.Int("n", 1000, "messages to send")
	timeout := fs.Duration("timeout", 5*time.Second, "bound on each message, and on waiting for a connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conns < 1 || *n < 0 || *timeout <= 0 {
		return fmt.Errorf("need -conns >= 1, -n >= 0 and a positive -timeout")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("lib", "protoactor")
	}))
	defer sys.Shutdown()

	addrs := make([]string, *conns)
	for i := range addrs {
		addrs[i] = *addr
	}
	p, err := pool.Start(sys, func() behaviours.Handler { return &echoCaller{} }, nil, addrs,
		actors.WithLogger(logger), pool.WithWaitForConnection(*timeout))
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Stop(stopCtx, nil); err != nil {
			fmt.Fprintln(stderr, "stop:", err)
		}
	}()
	fmt.Fprintf(stdout, "pool of %d connections to %s\n", *conns, *addr)

	// One sender per connection, so every connection has work.
	var next, echoed, failed atomic.Int64
	var mu sync.Mutex // orders the error lines
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) || ctx.Err() != nil {
					return
				}
				msg := fmt.Appendf(nil, "message %d\n", i)
				cctx, cancel := context.WithTimeout(ctx, *timeout)
				_, err := p.Call(cctx, msg)
				cancel()
				if err != nil {
					failed.Add(1)
					mu.Lock()
					fmt.Fprintf(stderr, "message %d: %v\n", i, err)
					mu.Unlock()
					continue
				}
				echoed.Add(1)
			}
		})
	}
	wg.Wait()
	up := 0
	for _, c := range p.Connections() {
		if c.State == pool.StateUp {
			up++
		}
	}
	fmt.Fprintf(stdout, "sent %d, echoed %d, failed %d, in %v over %d/%d live connections\n",
		echoed.Load()+failed.Load(), echoed.Load(), failed.Load(), time.Since(start).Round(time.Millisecond), up, *conns)
	switch {
	case failed.Load() > 0:
		return fmt.Errorf("%d of %d messages failed", failed.Load(), *n)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return nil
}
