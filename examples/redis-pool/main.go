// Command redis-pool talks to a Redis server through an etcp pool: RESP
// is framed by a custom transport.Framer (resp.go), and each command is a
// pool.Call that the connection's handler writes at once and answers
// when its reply arrives (Redis answers in order, so the callers wait in
// a FIFO of behaviours.From).
//
//	redis-server --port 6379 &
//	go run ./examples/redis-pool -addr 127.0.0.1:6379 -conns 4 -n 1000
//
// It SETs n keys, GETs them back and checks every value; each failed
// command is reported on stderr, the last line on stdout sums up, and the
// exit status is 1 if anything failed. While Redis is down the pool
// redials under its backoff, and a command waits for a connection up to
// -timeout.
package main

import (
	"context"
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
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "redis-pool:", err)
		os.Exit(1)
	}
}

// command is a Redis command, the request of a pool.Call.
type command []string

// redisConn is one pool connection's handler. Its state is the FIFO of
// callers waiting for their reply, oldest first: Redis answers commands in
// the order they came.
type redisConn struct {
	behaviours.Base
	waiting client.Pending
}

// HandleCall writes the command; the reply comes later, in HandlePacket.
func (h *redisConn) HandleCall(_ behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	cmd, ok := req.(command)
	if !ok || len(cmd) == 0 {
		return behaviours.Reply(fmt.Errorf("redis: want a non-empty command, got %T", req))
	}
	h.waiting.Add(from)
	return behaviours.Send(appendCommand(nil, cmd...))
}

// HandlePacket gets one complete reply (the RESP framer's frame) and
// answers the oldest caller with it (a reply with no command waiting
// stops the connection with client.ErrNoCaller).
func (h *redisConn) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	v, _, err := parseReply(p)
	if err != nil {
		return h.waiting.Reply(err).Stop(err)
	}
	return h.waiting.Reply(v) // a RedisError reaches the caller as its error
}

// Terminate fails the callers still waiting: their replies will not come.
func (h *redisConn) Terminate(c behaviours.Conn, reason error) error {
	h.waiting.Fail(c, reason)
	return reason
}

// startPool starts a pool of conns connections to the Redis server at
// addr, with a backoff suited to a server that restarts.
func startPool(sys *actor.ActorSystem, addr string, conns int, wait time.Duration, logger *slog.Logger) (*pool.Pool, error) {
	addrs := make([]string, conns)
	for i := range addrs {
		addrs[i] = addr
	}
	return pool.Start(sys, func() behaviours.Handler { return &redisConn{} }, nil, addrs,
		actors.WithSocket(transport.WithFramer(RESP())),
		pool.WithBackoff(pool.Backoff{Initial: 20 * time.Millisecond, Max: time.Second}),
		pool.WithWaitForConnection(wait), actors.WithLogger(logger))
}

// kv is a small Redis client on a pool.
type kv struct{ p *pool.Pool }

// Do runs one command and returns its reply: a string, int64, []byte,
// []any, or nil for a null reply; an error reply is returned as a
// RedisError.
func (c kv) Do(ctx context.Context, args ...string) (any, error) {
	return c.p.Call(ctx, command(args))
}

// Set sets key to value.
func (c kv) Set(ctx context.Context, key, value string) error {
	v, err := client.As[string](c.Do(ctx, "SET", key, value))
	if err == nil && v != "OK" {
		err = fmt.Errorf("redis: SET replied %v", v)
	}
	return err
}

// Get returns key's value, and false when it has none.
func (c kv) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := client.As[[]byte](c.Do(ctx, "GET", key)) // a null reply is nil
	return string(v), v != nil, err
}

// run SETs n keys through the pool, GETs them back, and reports.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("redis-pool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:6379", "address of the Redis server")
	conns := fs.Int("conns", 4, "connections in the pool")
	n := fs.Int("n", 1000, "keys to SET and GET")
	prefix := fs.String("prefix", "etcp:", "prefix of the keys")
	timeout := fs.Duration("timeout", 5*time.Second, "bound on each command, and on waiting for a connection")
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
	p, err := startPool(sys, *addr, *conns, *timeout, logger)
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
	db := kv{p}
	fmt.Fprintf(stdout, "pool of %d connections to %s\n", *conns, *addr)

	var failed atomic.Int64
	var mu sync.Mutex
	report := func(format string, a ...any) {
		failed.Add(1)
		mu.Lock()
		fmt.Fprintf(stderr, format+"\n", a...)
		mu.Unlock()
	}
	key := func(i int) string { return fmt.Sprintf("%s%d", *prefix, i) }
	value := func(i int) string { return fmt.Sprintf("value-%d", i) }
	// each runs f for 0..n-1 from one goroutine per connection.
	each := func(f func(ctx context.Context, i int)) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range *conns {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < *n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
					cctx, cancel := context.WithTimeout(ctx, *timeout)
					f(cctx, i)
					cancel()
				}
			})
		}
		wg.Wait()
	}
	start := time.Now()
	each(func(ctx context.Context, i int) {
		if err := db.Set(ctx, key(i), value(i)); err != nil {
			report("SET %s: %v", key(i), err)
		}
	})
	sets := failed.Load()
	each(func(ctx context.Context, i int) {
		got, ok, err := db.Get(ctx, key(i))
		switch {
		case err != nil:
			report("GET %s: %v", key(i), err)
		case !ok || got != value(i):
			report("GET %s: got %q (found %v), want %q", key(i), got, ok, value(i))
		}
	})
	fmt.Fprintf(stdout, "SET %d, GET %d, failed %d (SET %d, GET %d), in %v\n", *n, *n, failed.Load(),
		sets, failed.Load()-sets, time.Since(start).Round(time.Millisecond))
	switch {
	case failed.Load() > 0:
		return fmt.Errorf("%d commands failed", failed.Load())
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return nil
}
