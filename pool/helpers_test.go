package pool_test

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// lines is the framing of the tests: one SendSync is one line, so the
// server can count sends per connection.
var lines = transport.WithFramer(transport.Line())

// echoServer is a line echo server that can be stopped and started again
// on the same address, and counts the lines each of its connections got.
type echoServer struct {
	t    *testing.T
	sys  *actor.ActorSystem
	addr string
	srv  *server.Server

	mu     sync.Mutex
	counts map[string]int // server connection (name + id) → lines
}

type serverEcho struct {
	behaviours.Base
	s   *echoServer
	key string
}

func (h *serverEcho) Init(c behaviours.Conn, _ any) behaviours.Result {
	h.s.mu.Lock()
	h.key = c.Self().Id
	h.s.counts[h.key] += 0
	h.s.mu.Unlock()
	return behaviours.Continue()
}

func (h *serverEcho) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.s.mu.Lock()
	h.s.counts[h.key]++
	h.s.mu.Unlock()
	return behaviours.Send(append([]byte(nil), p...))
}

func (h *serverEcho) Terminate(behaviours.Conn, error) error {
	h.s.mu.Lock()
	delete(h.s.counts, h.key)
	h.s.mu.Unlock()
	return nil
}

// startEcho starts an echo server on addr ("" = a free loopback port).
func startEcho(t *testing.T, sys *actor.ActorSystem, addr string) *echoServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s := &echoServer{t: t, sys: sys, addr: addr, counts: map[string]int{}}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start (re)starts the server on its address.
func (s *echoServer) start() {
	s.t.Helper()
	require.Nil(s.t, s.srv, "server already running")
	var err error
	require.Eventually(s.t, func() bool {
		s.srv, err = server.Start(s.sys, func() behaviours.Handler { return &serverEcho{s: s} }, nil, s.addr,
			server.WithAcceptors(2), actors.WithSocket(lines), actors.WithLogger(testkit.Discard))
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "restart on %s", s.addr)
	s.addr = s.srv.Addr().String()
}

// stop stops the server and its connections.
func (s *echoServer) stop() {
	if s.srv == nil {
		return
	}
	require.NoError(s.t, s.srv.Stop(testkit.CtxTimeout(s.t, 10*time.Second), nil))
	s.srv = nil
}

// conns is how many connections the server has.
func (s *echoServer) conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.counts)
}

// lineCounts is the number of lines each connection received.
func (s *echoServer) lineCounts() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, n := range s.counts {
		out = append(out, n)
	}
	return out
}

// freeAddr is a loopback address nobody listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// terms records the reasons the pool side's Terminate saw, per pool ID.
type terms struct {
	mu      sync.Mutex
	reasons map[uint64][]error
}

func (r *terms) add(id uint64, reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reasons == nil {
		r.reasons = map[uint64][]error{}
	}
	r.reasons[id] = append(r.reasons[id], reason)
}

func (r *terms) get(id uint64) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.reasons[id]...)
}

func (r *terms) all() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []error
	for _, rs := range r.reasons {
		out = append(out, rs...)
	}
	return out
}

// client is the pool side's handler: it records Terminate and forwards
// packets to got (if set).
type client struct {
	behaviours.Base
	terms *terms
	got   chan<- string
}

func (h *client) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	if h.got != nil {
		h.got <- string(p)
	}
	return behaviours.Continue()
}

func (h *client) Terminate(c behaviours.Conn, reason error) error {
	if h.terms != nil {
		h.terms.add(c.ID(), reason)
	}
	return reason
}

// fast is a backoff for tests.
var fast = pool.WithBackoff(pool.Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond})

// startPool starts a pool of line-framed connections and stops it at the
// end of the test.
func startPool(t *testing.T, sys *actor.ActorSystem, h func() behaviours.Handler, addrs []string, opts ...pool.Option) *pool.Pool {
	t.Helper()
	if h == nil {
		h = func() behaviours.Handler { return &client{} }
	}
	opts = append([]pool.Option{actors.WithSocket(lines), fast}, opts...)
	p, err := pool.Start(sys, h, nil, addrs, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Stop(testkit.CtxTimeout(t, 10*time.Second), nil)) })
	return p
}

func states(p *pool.Pool) map[pool.State]int {
	out := map[pool.State]int{}
	for _, c := range p.Connections() {
		out[c.State]++
	}
	return out
}

var errBoom = errors.New("boom")
