package testkit

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
)

// Wait bounds every blocking step of a test: long enough for a loaded
// machine under -race, short enough that a hang fails fast.
const Wait = 10 * time.Second

// EventLoopEnv names the environment variable that runs the suites'
// connections on the event loop (actors.WithEventLoop) when it is "1":
// .ci/run runs the socket suites once more that way.
const EventLoopEnv = "ETCP_TEST_EVENT_LOOP"

// EventLoop reports whether this run puts connections on the event loop.
func EventLoop() bool { return os.Getenv(EventLoopEnv) == "1" }

// Mode returns opts, with actors.WithEventLoop first when the run puts
// connections on the event loop: tests that start a server, client or
// pool themselves pass their options through it.
func Mode(opts ...actors.Option) []actors.Option {
	if EventLoop() {
		return append([]actors.Option{actors.WithEventLoop(0)}, opts...)
	}
	return opts
}

// Discard is a logger that drops everything.
var Discard = slog.New(slog.DiscardHandler)

// NewSystem returns a quiet actor system, shut down when the test ends.
// Its short dead-letter throttle interval lets the throttle's goroutine
// (started by dead letters during a Stop) end before goleak looks.
func NewSystem(t testing.TB) *actor.ActorSystem {
	t.Helper()
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return Discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond))
	t.Cleanup(sys.Shutdown)
	return sys
}

// Ctx is a context that ends with the test, or after Wait.
func Ctx(t testing.TB) context.Context { return CtxTimeout(t, Wait) }

// CtxTimeout is a context that ends with the test, or after d.
func CtxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// StartServer starts a server on addr ("" = 127.0.0.1:0) with a
// discarding logger (opts may replace it); when the test ends it is
// stopped, and the Stop must succeed.
func StartServer(t testing.TB, sys *actor.ActorSystem, addr string, f behaviours.Factory, arg any, opts ...server.Option) *server.Server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	opts = append(Mode(actors.WithLogger(Discard)), opts...)
	srv, err := server.Start(sys, f, arg, addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Wait)
		defer cancel()
		require.NoError(t, srv.Stop(ctx, nil))
	})
	return srv
}

// Dial starts a client connection to addr; when the test ends it is
// stopped, and the Stop must succeed.
func Dial(t testing.TB, sys *actor.ActorSystem, addr string, f behaviours.Factory, arg any, opts ...client.Option) *actor.PID {
	t.Helper()
	pid, err := TryDial(t, sys, addr, f, arg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Wait)
		defer cancel()
		require.NoError(t, client.Stop(ctx, sys.Root, pid, nil))
	})
	return pid
}

// TryDial is client.Dial with a discarding logger (opts may replace it),
// bounded by Wait; the caller stops the connection if there is one.
func TryDial(t testing.TB, sys *actor.ActorSystem, addr string, f behaviours.Factory, arg any, opts ...client.Option) (*actor.PID, error) {
	t.Helper()
	opts = append(Mode(actors.WithLogger(Discard)), opts...)
	return client.Dial(Ctx(t), sys.Root, addr, f, arg, opts...)
}

// Echo is a handler that sends every packet back.
type Echo struct{ behaviours.Base }

// HandlePacket sends p back.
func (Echo) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

// NewEcho is the factory of Echo.
func NewEcho() behaviours.Handler { return Echo{} }

// DialRaw opens a plain socket to address on network ("tcp", "unix"),
// with a deadline Wait from now for every read and write; it is closed
// when the test ends.
func DialRaw(t testing.TB, network, address string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, address, Wait)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(Wait)))
	return c
}

// Write writes s to w.
func Write(t testing.TB, w io.Writer, s string) {
	t.Helper()
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
}

// ReadN reads exactly n bytes from r.
func ReadN(t testing.TB, r io.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	require.NoError(t, err)
	return b
}

// ReadLine reads one line from r and returns it without its LF.
func ReadLine(t testing.TB, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(line, "\n")
}

// Recv takes the next value from ch, failing the test after Wait.
func Recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Wait):
		t.Fatalf("nothing arrived within %v", Wait)
		panic("unreachable")
	}
}

// RequireEmpty asserts ch holds nothing right now.
func RequireEmpty[T any](t testing.TB, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %v", v)
	default:
	}
}

// Conns lists srv's connections, requiring the list (a registry that
// keeps one).
func Conns(t testing.TB, srv *server.Server) []actors.ConnInfo {
	t.Helper()
	conns, err := srv.Connections()
	require.NoError(t, err)
	return conns
}
