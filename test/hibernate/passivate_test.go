package hibernate_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// Passivation under races, watches, clients, pools, Unix sockets, TLS,
// passive mode, partial frames and mass peer close.

var lineFraming = transport.WithFramer(transport.Line())

// starts counts the actor starts of the connections it traces: one when
// a connection starts, then one per wake from passivation.
type starts struct{ n atomic.Int64 }

func (s *starts) Trace(ev actors.TraceEvent) {
	if _, ok := ev.Message.(*actor.Started); ok && ev.Kind == actors.TraceMessageIn {
		s.n.Add(1)
	}
}

// await waits until the traced connections have started n times.
func (s *starts) await(t *testing.T, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return s.n.Load() == n }, testkit.Wait, time.Millisecond,
		"want %d actor starts", n)
}

// racer counts casts and lines, answers each line with "re <line>", echoes
// every call's request (or its tally for "count"), and hibernates after
// every callback.
type racer struct {
	behaviours.Base
	tally tally
}

type tally struct{ casts, lines int }

func newRacer() behaviours.Handler { return &racer{} }

func (r *racer) Init(behaviours.Conn, any) behaviours.Result { return behaviours.Hibernate() }

func (r *racer) HandleCast(behaviours.Conn, any) behaviours.Result {
	r.tally.casts++
	return behaviours.Hibernate()
}

func (r *racer) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	r.tally.lines++
	return behaviours.Send(append([]byte("re "), p...)).Hibernate()
}

func (r *racer) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	if req == "count" {
		return behaviours.Reply(r.tally).Hibernate()
	}
	return behaviours.Reply(req).Hibernate()
}

// recorder hands every packet to got as "<PID id> <packet>", replies to
// calls with its connection's ID, reports Terminate's reason to done (if
// set), and hibernates after every callback when sleepy.
type recorder struct {
	behaviours.Base
	sleepy bool
	got    chan<- string
	done   chan<- error
}

func (r *recorder) next(res behaviours.Result) behaviours.Result {
	if r.sleepy {
		return res.Hibernate()
	}
	return res
}

func (r *recorder) Init(behaviours.Conn, any) behaviours.Result { return r.next(behaviours.Continue()) }

func (r *recorder) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	r.got <- c.Self().Id + " " + string(p)
	return r.next(behaviours.Continue())
}

func (r *recorder) HandleCall(c behaviours.Conn, _ any, _ behaviours.From) behaviours.Result {
	return r.next(behaviours.Reply(c.ID()))
}

func (r *recorder) Terminate(_ behaviours.Conn, reason error) error {
	if r.done != nil {
		r.done <- reason
	}
	return reason
}

// reluctant is a passive-mode handler: a call "recv" asks for one read,
// any other call returns how many packets arrived; packets go to got.
// It hibernates after every callback.
type reluctant struct {
	behaviours.Base
	got      chan<- string
	received int
}

func (h *reluctant) Init(behaviours.Conn, any) behaviours.Result { return behaviours.Hibernate() }

func (h *reluctant) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.received++
	h.got <- string(p)
	return behaviours.Hibernate()
}

func (h *reluctant) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	if req == "recv" {
		return behaviours.Recv(0, behaviours.Never).Reply(h.received).Hibernate()
	}
	return behaviours.Reply(h.received).Hibernate()
}

// serve starts a line server of f's handlers on addr ("" = loopback TCP)
// whose readers park only when their connection hibernates.
func serve(t *testing.T, addr string, f behaviours.Factory, arg any, opts ...server.Option) (*actor.ActorSystem, *server.Server) {
	t.Helper()
	sys := testkit.NewSystem(t)
	opts = append([]server.Option{server.WithAcceptors(2), actors.WithParkAfter(-1),
		actors.WithSocket(lineFraming)}, opts...)
	return sys, testkit.StartServer(t, sys, addr, f, arg, opts...)
}

// startAt is start (hibernate_test.go) on addr.
func startAt(t *testing.T, addr string, opts ...server.Option) *fixture {
	t.Helper()
	done := make(chan error, 10000)
	sys, srv := serve(t, addr, func() behaviours.Handler { return &sleeper{} }, done, opts...)
	return &fixture{sys: sys, srv: srv, done: done}
}

// stopServer stops srv and requires that no connection is left passivated.
func stopServer(t *testing.T, srv *server.Server) {
	t.Helper()
	require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
	require.Equal(t, actors.Stats{}, srv.Info().Conns, "connections outlived their server")
}

func newPeer(c net.Conn) *peer { return &peer{Conn: c, r: bufio.NewReader(c)} }

// onlyConn waits for srv's one connection and returns its PID.
func onlyConn(t *testing.T, srv *server.Server) *actor.PID {
	t.Helper()
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 1 }, testkit.Wait, time.Millisecond)
	return testkit.Conns(t, srv)[0].PID
}

// mailboxesIdle waits until no connection of c has an actor turn under
// way, so any passivation its last turn could make has been made.
func mailboxesIdle(t *testing.T, c counts) {
	t.Helper()
	require.Eventually(t, func() bool { return c().Busy == 0 }, testkit.Wait, time.Millisecond,
		"connection mailboxes still running")
}

// Casts from 8 goroutines and peer lines racing passivation are each handled exactly once.
func TestCastsAndBytesRacePassivation(t *testing.T) {
	tr := new(starts)
	sys, srv := serve(t, "", newRacer, nil, actors.WithTracer(tr))
	p := newPeer(testkit.DialRaw(t, "tcp", srv.Addr().String()))
	pid := onlyConn(t, srv)
	const rounds, senders, per = 6, 8, 50
	for round := range rounds {
		passivated(t, serverCounts(srv), 1)
		begin := make(chan struct{})
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() {
				<-begin
				for range per {
					client.Cast(sys.Root, pid, "tick")
				}
			})
		}
		wg.Go(func() {
			<-begin
			for i := range per {
				_, err := fmt.Fprintf(p, "r%d-%d\n", round, i)
				assert.NoError(t, err)
			}
		})
		close(begin)
		for i := range per {
			require.Equal(t, fmt.Sprintf("re r%d-%d", round, i), testkit.ReadLine(t, p.r))
		}
		wg.Wait()
	}
	passivated(t, serverCounts(srv), 1)
	got, err := client.Call(testkit.Ctx(t), sys.Root, pid, "count")
	require.NoError(t, err)
	require.Equal(t, tally{casts: rounds * senders * per, lines: rounds * per}, got)
	require.GreaterOrEqual(t, tr.n.Load(), int64(rounds+2), "each round and the count began with a wake")
	stopServer(t, srv)
}

// Many concurrent Calls to a passivated connection each get their own reply.
func TestConcurrentCallsToPassivatedConnection(t *testing.T) {
	tr := new(starts)
	sys, srv := serve(t, "", newRacer, nil, actors.WithTracer(tr))
	testkit.DialRaw(t, "tcp", srv.Addr().String())
	pid := onlyConn(t, srv)
	ctx := testkit.Ctx(t)
	const rounds, callers = 5, 64
	for round := range rounds {
		passivated(t, serverCounts(srv), 1)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				req := fmt.Sprintf("call %d/%d", round, i)
				got, err := client.Call(ctx, sys.Root, pid, req)
				assert.NoError(t, err)
				assert.Equal(t, req, got)
			})
		}
		wg.Wait()
	}
	passivated(t, serverCounts(srv), 1)
	require.GreaterOrEqual(t, tr.n.Load(), int64(rounds+1), "each round began with a wake")
	stopServer(t, srv)
}

// A Watch wakes a passivated connection for good; its watcher gets Terminated for its PID.
func TestWatchedConnectionNeverPassivatesAgain(t *testing.T) {
	tr := new(starts)
	f := start(t, actors.WithTracer(tr))
	p := f.dial(t)
	testkit.Write(t, p, "hi\n")
	id := p.expect(t, "packet", 1)
	pid := onlyConn(t, f.srv)
	passivated(t, f.counts, 1)
	woken := tr.n.Load() // 1, or 2 if it passivated between Init and "hi"

	ended := make(chan *actor.Terminated, 1)
	watcher := f.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.Watch(pid)
		case *actor.Terminated:
			ended <- m
		}
	}))
	tr.await(t, woken+1) // the Watch woke it
	passivated(t, f.counts, 0)

	client.Cast(f.sys.Root, pid, "x")
	require.Equal(t, id, p.expect(t, "cast", 2))
	testkit.Write(t, p, "again\n")
	require.Equal(t, id, p.expect(t, "packet", 3))
	settled(t, f.counts) // hibernated, reader parked, mailbox idle
	require.Zero(t, f.counts().Passivated, "a watched connection passivated")
	require.Equal(t, woken+1, tr.n.Load(), "no passivation and wake since the Watch")

	require.NoError(t, client.Stop(testkit.Ctx(t), f.sys.Root, pid, errors.New("bye")))
	require.EqualError(t, testkit.Recv(t, f.done), "terminated after 3: bye")
	term := testkit.Recv(t, ended)
	require.Equal(t, pid.Id, term.Who.Id)
	require.NoError(t, f.sys.Root.StopFuture(watcher).Wait())
	stopServer(t, f.srv)
}

// A client.Dial connection passivates, wakes on bytes and SendSync, and Stop terminates it once.
func TestDialledConnectionPassivates(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	sys := testkit.NewSystem(t)
	tr := new(starts)
	got, done := make(chan string, 8), make(chan error, 8)
	pid, err := testkit.TryDial(t, sys, ln.Addr().String(),
		func() behaviours.Handler { return &recorder{sleepy: true, got: got, done: done} }, nil,
		actors.WithParkAfter(-1), actors.WithTracer(tr), actors.WithSocket(lineFraming))
	require.NoError(t, err)
	raw := testkit.Recv(t, accepted)
	t.Cleanup(func() { raw.Close() })
	require.NoError(t, raw.SetDeadline(time.Now().Add(testkit.Wait)))
	srv := newPeer(raw)
	ctx := testkit.Ctx(t)

	passivated(t, clientCounts(sys, pid), 1)
	testkit.Write(t, srv, "hello\n") // bytes wake it
	require.Equal(t, pid.Id+" hello", testkit.Recv(t, got))
	passivated(t, clientCounts(sys, pid), 1)
	require.NoError(t, client.SendSync(ctx, sys.Root, pid, []byte("ping"))) // so does a send
	require.Equal(t, "ping", testkit.ReadLine(t, srv.r))
	testkit.Write(t, srv, "pong\n")
	require.Equal(t, pid.Id+" pong", testkit.Recv(t, got))
	passivated(t, clientCounts(sys, pid), 1)

	require.NoError(t, client.Stop(ctx, sys.Root, pid, nil))
	require.Equal(t, int64(4), tr.n.Load(), "started, then woken by bytes, the send and the stop")
	require.Len(t, done, 1)
	require.NoError(t, <-done)
	_, err = srv.r.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the client closed its socket")
	require.NoError(t, client.Stop(ctx, sys.Root, pid, nil), "stopping an ended connection succeeds")
	testkit.RequireEmpty(t, done)
	require.Zero(t, clientCounts(sys, pid)().Passivated)
}

// Pool connections passivate, wake for pool SendSync and Call, and Stop terminates each.
func TestPoolConnectionsPassivate(t *testing.T) {
	sys := testkit.NewSystem(t)
	echo := testkit.StartServer(t, sys, "", testkit.NewEcho, nil, actors.WithSocket(lineFraming))
	addr := echo.Addr().String()
	const n = 4
	got, done := make(chan string, 64), make(chan error, 2*n)
	p, err := pool.Start(sys, func() behaviours.Handler { return &recorder{sleepy: true, got: got, done: done} }, nil,
		[]string{addr, addr, addr, addr}, testkit.Mode(actors.WithLogger(testkit.Discard), actors.WithParkAfter(-1),
			actors.WithSocket(lineFraming))...)
	require.NoError(t, err)
	t.Cleanup(func() { p.Stop(context.Background(), nil) })
	ctx := testkit.Ctx(t)
	require.NoError(t, p.WaitUp(ctx, n))

	for round := range 3 {
		passivated(t, p.Stats, n)
		want := map[string]bool{}
		for i := range 2 * n {
			msg := fmt.Sprintf("r%d-%d", round, i)
			want[msg] = true
			require.NoError(t, p.SendSync(ctx, []byte(msg)))
		}
		seen := map[string]bool{}
		for range 2 * n {
			_, msg, _ := strings.Cut(testkit.Recv(t, got), " ")
			seen[msg] = true
		}
		require.Equal(t, want, seen, "every send came back through its connection")

		passivated(t, p.Stats, n)
		ids := map[any]bool{}
		for range n {
			id, err := p.Call(ctx, "id")
			require.NoError(t, err)
			ids[id] = true
		}
		require.Len(t, ids, n, "round robin called every connection")
	}
	passivated(t, p.Stats, n)
	require.NoError(t, p.Stop(ctx, nil))
	require.Len(t, done, n, "one Terminate per connection")
	for range n {
		require.ErrorIs(t, <-done, actors.ErrShutdown)
	}
	require.Zero(t, p.Stats().Passivated)
	stopServer(t, echo)
}

// A Unix-socket connection passivates and wakes, same PID, on bytes and on peer close.
func TestUnixConnectionPassivates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etcp.sock")
	tr := new(starts)
	f := startAt(t, path, actors.WithTracer(tr), actors.WithSocket(transport.WithTransport(transport.Unix())))
	p := newPeer(testkit.DialRaw(t, "unix", path))
	testkit.Write(t, p, "hi\n")
	id := p.expect(t, "packet", 1)
	passivated(t, f.counts, 1)
	woken := tr.n.Load() // 1, or 2 if it passivated between Init and "hi"
	for n := 2; n <= 4; n++ {
		passivated(t, f.counts, 1)
		testkit.Write(t, p, "again\n")
		require.Equal(t, id, p.expect(t, "packet", n))
	}
	passivated(t, f.counts, 1)
	require.NoError(t, p.Close())
	require.EqualError(t, testkit.Recv(t, f.done), "terminated after 5: %!w(<nil>)")
	require.Equal(t, woken+4, tr.n.Load(), "woken three times by bytes, then once by the close")
	require.Zero(t, f.counts().Passivated)
	stopServer(t, f.srv)
}

// TLS connections that hibernate are never passivated, and still answer.
func TestTLSConnectionsNeverPassivate(t *testing.T) {
	cert, err := transport.SelfSigned()
	require.NoError(t, err)
	tr := new(starts)
	f := start(t, actors.WithTracer(tr), actors.WithSocket(
		transport.WithTransport(transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))))
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	const n = 5
	peers := make([]*peer, n)
	for i := range peers {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: testkit.Wait}, "tcp", f.srv.Addr().String(),
			&tls.Config{RootCAs: roots})
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(testkit.Wait)))
		peers[i] = newPeer(c)
	}
	for round := 1; round <= 3; round++ {
		for _, p := range peers {
			testkit.Write(t, p, "hi\n")
			p.expect(t, "packet", round)
		}
		mailboxesIdle(t, f.counts)
		require.Zero(t, f.counts().Passivated, "a TLS connection passivated")
	}
	conns := testkit.Conns(t, f.srv)
	require.Len(t, conns, n)
	for _, c := range conns {
		got, err := client.Call(testkit.Ctx(t), f.sys.Root, c.PID, "x")
		require.NoError(t, err)
		require.Equal(t, 4, got)
	}
	for _, p := range peers {
		p.expect(t, "call", 4)
	}
	mailboxesIdle(t, f.counts)
	require.Zero(t, f.counts().Passivated, "a TLS connection passivated")
	require.Equal(t, int64(n), tr.n.Load(), "no TLS connection was ever re-spawned")
	for _, p := range peers {
		require.NoError(t, p.Close())
	}
	for range n {
		require.ErrorContains(t, testkit.Recv(t, f.done), "terminated after 5:")
	}
	stopServer(t, f.srv)
}

// A passive connection with no Recv passivates, sleeps through bytes, and a Recv gets them.
func TestPassiveConnectionSleepsThroughBytes(t *testing.T) {
	tr := new(starts)
	got := make(chan string, 8)
	sys, srv := serve(t, "", func() behaviours.Handler { return &reluctant{got: got} }, nil,
		actors.WithTracer(tr), actors.WithSocket(transport.WithFramer(transport.Raw()), transport.WithPassive()))
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	pid := onlyConn(t, srv)
	call := func(req string) any {
		t.Helper()
		v, err := client.Call(testkit.Ctx(t), sys.Root, pid, req)
		require.NoError(t, err)
		return v
	}

	passivated(t, serverCounts(srv), 1)
	testkit.Write(t, raw, "hello")
	// A bounded negative check: the tracer would count even a brief wake.
	require.Never(t, func() bool { return serverCounts(srv)().Passivated != 1 || tr.n.Load() != 1 },
		100*time.Millisecond, time.Millisecond, "bytes woke a connection that asked for none")
	require.Equal(t, 0, call("state"), "nothing is delivered without a Recv")
	testkit.RequireEmpty(t, got)
	passivated(t, serverCounts(srv), 1)

	require.Equal(t, 0, call("recv"))
	require.Equal(t, "hello", testkit.Recv(t, got))
	passivated(t, serverCounts(srv), 1) // no Recv outstanding again
	require.Equal(t, 1, call("state"))
	passivated(t, serverCounts(srv), 1)
	stopServer(t, srv)
}

// A partial frame survives passivation: "abc", passivated, "def\n" is one packet "abcdef".
func TestPartialFrameSurvivesPassivation(t *testing.T) {
	tr := new(starts)
	got := make(chan string, 4)
	_, srv := serve(t, "", func() behaviours.Handler { return &recorder{got: got} }, nil,
		actors.WithTracer(tr), actors.WithIdleHibernate(20*time.Millisecond))
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	pid := onlyConn(t, srv)

	passivated(t, serverCounts(srv), 1) // idle since Init
	require.Equal(t, int64(1), tr.n.Load())
	testkit.Write(t, raw, "abc")
	tr.await(t, 2)                      // the bytes woke it: it reads them and idles again...
	passivated(t, serverCounts(srv), 1) // ...with "abc" pending
	testkit.Write(t, raw, "def\n")
	require.Equal(t, pid.Id+" abcdef", testkit.Recv(t, got))
	testkit.RequireEmpty(t, got)
	stopServer(t, srv)
}

// 200 passivated connections whose peers close at once run HandleDisconnect, then Terminate.
func TestPeersCloseWhilePassivated(t *testing.T) {
	f := start(t, server.WithAcceptors(10))
	const n = 200
	peers := make([]*peer, n)
	for i := range peers {
		peers[i] = f.dial(t)
		testkit.Write(t, peers[i], "hi\n")
		peers[i].expect(t, "packet", 1)
	}
	passivated(t, f.counts, n)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			<-begin
			assert.NoError(t, p.Close())
		})
	}
	close(begin)
	wg.Wait()
	for range n {
		// The count 2 is the packet and HandleDisconnect, run before Terminate.
		require.EqualError(t, testkit.Recv(t, f.done), "terminated after 2: %!w(<nil>)")
	}
	passivated(t, f.counts, 0)
	require.Eventually(t, func() bool { return len(testkit.Conns(t, f.srv)) == 0 }, testkit.Wait, time.Millisecond)
	testkit.RequireEmpty(t, f.done)
	stopServer(t, f.srv)
}
