// Command kv is a small Redis: a key-value server that speaks the Redis
// protocol (RESP2), built on etcp. Every client connection is an actor
// whose HandlePacket runs one command.
//
//	go run ./examples/kv -addr 127.0.0.1:6380
//	redis-cli -p 6380 set greeting hello
//	redis-benchmark -p 6380 -t ping,set,get -q
//
// Its first line on stdout is "listening ADDR" with the bound address; it
// serves until SIGINT or SIGTERM, then stops every connection and exits
// with status 0. Nothing is persisted.
//
// # Commands
//
// Strings only, with Redis 7.0's replies and error messages:
// PING, ECHO, GET, SET (EX, PX, EXAT, PXAT, NX, XX, KEEPTTL, GET), DEL,
// EXISTS, INCR, DECR, INCRBY, DECRBY, MGET, MSET, MSETNX, EXPIRE, PEXPIRE,
// EXPIREAT, PEXPIREAT (NX, XX, GT, LT), PERSIST, TTL, PTTL, TYPE, KEYS
// (Redis globs), DBSIZE, FLUSHDB, FLUSHALL and QUIT; and, for clients
// and tools starting up: SELECT 0, AUTH and HELLO (no password is set;
// HELLO 3 is refused with NOPROTO, kv speaks RESP2), CLIENT ID, GETNAME,
// SETNAME, SETINFO, CONFIG GET (a few fixed values), COMMAND (an empty
// array, as COMMAND DOCS; COMMAND COUNT and LIST tell what kv knows).
//
// Requests are RESP arrays of bulk strings, or inline commands typed into
// a terminal ("PING\r\n", with Redis's quoting). Pipelined commands are
// answered in order, and all the replies to the commands of one socket
// read leave in one write. An unknown command or a wrong number of
// arguments gets Redis's error and the connection carries on; malformed
// RESP gets "-ERR Protocol error: ..." and the connection closes, as
// Redis does. kv is stricter than Redis in one way: a CR must be followed
// by LF, and a bulk string by CRLF (Redis skips those two bytes unread);
// and a NUL byte ends an inline command's line (Redis never finds the end
// of such a line).
//
// # Pipelining and writes
//
// requestFramer makes each command one frame, and the library runs
// HandlePacket once per frame, in order, within the turn that handles the
// socket read; the replies every call sends are framed into the
// connection's write buffer and written together when the read is
// handled. So the replies to all the commands one read completes leave in
// one write(2), whatever the pipeline depth: under strace, redis-benchmark
// -c 50 -P 16 (GET, SET; 40,000 requests) made 2,501 reads and 2,501
// writes, 16 commands in every read and 16 replies in every write; with
// -P 1000 each 16 KiB read of about 455 commands (a command cut at the
// end waits for the next read) gave one write of their replies.
//
// A command that spans several 16 KiB reads is scanned once:
// requestFramer is a transport.Resumer, and the connection keeps where
// its scan of an incomplete command stopped (the next argument to check)
// until the next read. Measured here on a busy machine, an MSET of
// 1,000,000 arguments (12.8 MB) is answered after 0.53 s (Redis 0.32 s);
// when each read scanned the command again from its start it took 5.5 s.
//
// # Performance
//
// kv serves its clients from one event loop (actors.WithEventLoop(1)), as
// Redis serves them from one thread: when requests arrive, the loop reads
// each ready client's socket and runs its actor right there, with no
// goroutine per client and no goroutine switch per request. Beside
// redis-server 7.0 on a 2-core machine, with redis-benchmark -c 50 on the
// same machine (rounds alternating, medians of 3; the README has the
// table), kv answers 0.97 to 1.04 times Redis's requests per second
// without pipelining and 0.94 to 0.99 times with -P 16, at about equal CPU
// per request. With -event-loops 0 (a goroutine per client, the library's
// default mode) it serves 0.54 to 0.66 times Redis's, as a plain net
// server does: every request wakes a goroutine through Go's netpoller and
// scheduler, whose threads take CPU from the single-threaded benchmark.
// Two loops on two cores shared with the clients also do worse (about
// 0.7); a machine of its own with many cores wants one loop per core.
//
// # Flags
//
//	-addr ADDR             address to listen on (default 127.0.0.1:6380; port 0 = any free port)
//	-max-bulk N            largest bulk string accepted, in bytes (default 64 MiB; Redis's
//	                       proto-max-bulk-len is 512 MiB); a "$N" header over it is refused
//	                       before any of its bytes is read
//	-max-query N           largest command, in bytes (default 128 MiB; Redis's
//	                       client-query-buffer-limit is 1 GiB): what one connection may buffer
//	-shards N              keyspace shards, each with its own lock (default 64)
//	-expire-interval D     how often expired keys are swept (default 100ms, as Redis's hz 10)
//	-acceptors N           acceptor actors (default 10)
//	-max-conns N           most clients at once, as Redis's maxclients (default
//	                       10000; 0 = no limit); more wait in the backlog
//	-idle-hibernate D      hibernate connections idle this long (default 0: never)
//	-event-loops N         event loops serving the clients (default 1, as Redis; 0 = a
//	                       goroutine per client instead)
//	-write-timeout D       end a client that takes no byte of its replies for this
//	                       long (default 30s); a client that reads slowly is never cut:
//	                       while more than 64 KiB of its replies wait, its commands are
//	                       not read (back-pressure), so a pipelining client is served
//	                       any volume in bounded memory
//	-cpuprofile FILE       write a CPU profile (runtime/pprof) until the server stops
//
// # Keyspace
//
// A sharded map: a key's hash picks one of -shards shards, each a Go map
// under its own sync.RWMutex, so no single lock serves every client.
// Commands on several keys (MGET, MSET, MSETNX, DEL, EXISTS) lock all
// the shards they touch, in ascending order, and are atomic. KEYS,
// DBSIZE and FLUSHDB go shard by shard and are not a snapshot. Expiry is
// lazy (an expired key is invisible at once and deleted by the next write
// that finds it) and periodic (a sweeper samples the shards with keys that
// have a TTL every -expire-interval), like Redis's. See keyspace.go.
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
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

// session is one client connection's handler: its state is the client's
// (name, id) and buffers reused from one command to the next, so that the
// common commands allocate nothing.
type session struct {
	behaviours.Base
	db  *keyspace
	lim limits
	id  int64

	name []byte    // CLIENT SETNAME
	col  collector // the command's arguments, slices of the frame
	cmd  *command  // the command running
	out  []byte    // the reply being written
	quit bool      // close once the reply is out
}

// maxKeptReply is the largest reply buffer a session keeps for the next
// command; a larger one (a big GET) is let go.
const maxKeptReply = 64 << 10

// maxKeptArgs is the most arguments a session keeps room for.
const maxKeptArgs = 1024

func (s *session) Init(c behaviours.Conn, _ any) behaviours.Result {
	s.id = int64(c.ID())
	return behaviours.Continue()
}

// HandlePacket runs one command: p is one frame of requestFramer, a
// whole command or a malformed one.
//
// The reply is built in s.out, which is reused for the next command: the
// connection frames (copies) what Send asks for into its write buffer as
// soon as the callback returns, and writes the replies to every command
// of one socket read together once the read is handled. The pipelining
// test checks that replies to pipelined commands are never mixed up.
func (s *session) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	if cap(s.out) > maxKeptReply {
		s.out = nil
	}
	if cap(s.col.args) > maxKeptArgs {
		s.col.args = nil
	}
	s.out = s.out[:0]
	s.col.args = s.col.args[:0]
	_, perr := scanCommand(p, s.lim, &s.col)
	args := s.col.args
	defer clear(args) // they point into p, which may be large
	switch {
	case perr.code != protoOK:
		s.out = appendError(s.out, perr.message())
		return behaviours.Send(s.out).Close()
	case len(args) == 0: // an empty line, or "*0"
		return behaviours.Continue()
	}
	s.exec(args)
	r := behaviours.Send(s.out)
	if s.quit {
		r = r.Close()
	}
	return r
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "kv:", err)
		os.Exit(1)
	}
}

// Defaults of the flags.
const (
	defaultMaxBulk  = 64 << 20
	defaultMaxQuery = 128 << 20
	defaultShards   = 64
)

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("kv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:6380", "address to listen on (port 0 = any free port)")
	maxBulk := fs.Int("max-bulk", defaultMaxBulk, "largest bulk string accepted, in bytes")
	maxQuery := fs.Int("max-query", defaultMaxQuery, "largest command accepted, in bytes")
	shards := fs.Int("shards", defaultShards, "keyspace shards, each with its own lock")
	expireEvery := fs.Duration("expire-interval", 100*time.Millisecond, "how often expired keys are swept")
	acceptors := fs.Int("acceptors", server.DefaultAcceptors, "number of acceptor actors")
	maxConns := fs.Int("max-conns", 10000, "most clients at once, as Redis's maxclients; more wait in the backlog (0 = no limit)")
	idleHibernate := fs.Duration("idle-hibernate", 0, "hibernate connections idle this long (0 = never)")
	eventLoops := fs.Int("event-loops", 1, "serve clients from this many event loops, as Redis serves them from one (0: a goroutine per client)")
	writeTimeout := fs.Duration("write-timeout", transport.DefaultWriteTimeout, "end a connection whose client takes no byte of its replies for this long")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the server stops")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *maxBulk < 1:
		return errors.New("-max-bulk must be positive")
	case *maxQuery < 2*lineMax:
		return fmt.Errorf("-max-query must be at least %d (two inline commands)", 2*lineMax)
	case *shards < 1:
		return errors.New("-shards must be positive")
	case *expireEvery <= 0:
		return errors.New("-expire-interval must be positive")
	case *eventLoops < 0:
		return errors.New("-event-loops must not be negative")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("lib", "protoactor")
	}))
	defer sys.Shutdown()
	db := newKeyspace(*shards, *expireEvery)
	defer db.close()

	lim := limits{maxBulk: *maxBulk, maxQuery: *maxQuery}
	factory := func() behaviours.Handler { return &session{db: db, lim: lim} }
	srv, err := server.Start(sys, factory, nil, *addr,
		server.WithAcceptors(*acceptors), server.WithMaxConnections(limitFlag(*maxConns)), actors.WithLogger(logger),
		actors.WithIdleHibernate(*idleHibernate), eventLoopOption(*eventLoops),
		actors.WithSocket(transport.WithFramer(requestFramer{maxBulk: *maxBulk}), transport.WithMaxFrame(*maxQuery),
			transport.WithWriteTimeout(*writeTimeout)))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening %s\n", srv.Addr())
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Stop(stopCtx, nil)
}

// eventLoopOption is actors.WithEventLoop(loops), or with none an option
// that changes nothing.
func eventLoopOption(loops int) actors.Option {
	if loops > 0 {
		return actors.WithEventLoop(loops)
	}
	return actors.WithSocket()
}

// limitFlag maps the -max-conns flag to a server option's value: the
// flag's 0 means no limit, the option's 0 the default.
func limitFlag(n int) int {
	if n == 0 {
		return server.NoLimit
	}
	return n
}
