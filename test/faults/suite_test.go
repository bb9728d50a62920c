package faults_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// The fault suite: each scenario misbehaves against an echo server over
// real sockets while a few well-behaved peers (bystanders) echo and
// receive SendSyncs alongside. After each scenario:
//
//   - the server still accepts and echoes byte-exact;
//   - goroutines and open descriptors are back to their baseline;
//   - Terminate ran exactly once per connection, and the server's Info
//     adds up;
//   - every SendSync that returned nil was delivered to its peer, and
//     every echo came back byte-exact and in order.
//
// Each prints one summary line (see summary). The descriptor flood runs
// in a child process: TestEMFILELoggedOncePerBurst.

const (
	suiteMaxFrame    = 64 << 10
	suiteIdleTimeout = time.Second
	suiteBystanders  = 10
)

// echoHooks makes p an echo with commands: "panic" panics, "close"
// echoes and closes, "big" answers 4 MiB.
func echoHooks(p *probe) *probe {
	p.packet = func(_ behaviours.Conn, pk []byte) behaviours.Result {
		switch string(pk) {
		case "panic":
			panic("kaboom")
		case "close":
			return behaviours.Send([]byte("close")).Close()
		case "big":
			return behaviours.Send(make([]byte, 4<<20))
		}
		return behaviours.Send(bytes.Clone(pk))
	}
	return p
}

// reset clears the probe's counts between scenarios (no connection is
// up then).
func (p *probe) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.inits)
	clear(p.terms)
	clear(p.reasons)
	p.nInit.Store(0)
	p.nTerm.Store(0)
	for len(p.termCh) > 0 {
		<-p.termCh
	}
}

// fixture is the suite's echo servers: plain and TLS, 4-byte length
// framing, a 64 KiB frame limit and a 1 s idle timeout.
type fixture struct {
	sys       *actor.ActorSystem
	servers   map[string]*server.Server
	probes    map[string]*probe
	clientTLS *tls.Config
}

func newFixture(t *testing.T) *fixture {
	srvTLS, cliTLS := tlsConfigs(t)
	f := &fixture{sys: testkit.NewSystem(t), servers: map[string]*server.Server{}, probes: map[string]*probe{},
		clientTLS: cliTLS}
	for kind, tr := range map[string]transport.Transport{"tcp": transport.TCP(), "tls": transport.TLS(srvTLS)} {
		f.probes[kind] = echoHooks(newProbe())
		f.servers[kind] = testkit.StartServer(t, f.sys, "", newHandler, f.probes[kind],
			actors.WithSocket(transport.WithTransport(tr), transport.WithFramer(transport.Length(4)),
				transport.WithMaxFrame(suiteMaxFrame), transport.WithHandshakeTimeout(500*time.Millisecond)),
			actors.WithIdleTimeout(suiteIdleTimeout), server.WithName("suite-"+kind))
	}
	return f
}

// dial connects to the server of kind; a TLS connection has done its
// handshake.
func (f *fixture) dial(t testing.TB, kind string) net.Conn {
	t.Helper()
	c := testkit.DialRaw(t, "tcp", f.servers[kind].Addr().String())
	if kind == "tls" {
		tc := tls.Client(c, f.clientTLS)
		require.NoError(t, tc.HandshakeContext(testkit.Ctx(t)))
		return tc
	}
	return c
}

// pidOf finds the server connection of a client socket.
func pidOf(t testing.TB, srv *server.Server, c net.Conn) *actor.PID {
	t.Helper()
	var pid *actor.PID
	require.Eventually(t, func() bool {
		for _, ci := range testkit.Conns(t, srv) {
			if ci.Peer != nil && ci.Peer.String() == c.LocalAddr().String() {
				pid = ci.PID
				return true
			}
		}
		return false
	}, testkit.Wait, tick)
	return pid
}

// readFrame reads one 4-byte length frame.
func readFrame(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(h[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}

// framedPeer is a well-behaved client: it writes echo frames ("e:...")
// and reads everything the server sends, checking that echoes come back
// byte-exact and in order, and keeping the SendSync payloads ("ss:...").
type framedPeer struct {
	c      net.Conn
	mu     sync.Mutex
	sent   [][]byte
	echoed int
	pushed map[string]bool
	bad    error
	done   chan struct{} // the reader ended
	rerr   error
}

func startPeer(c net.Conn) *framedPeer {
	p := &framedPeer{c: c, pushed: map[string]bool{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			b, err := readFrame(c)
			if err != nil {
				p.rerr = err
				return
			}
			p.mu.Lock()
			switch {
			case bytes.HasPrefix(b, []byte("ss:")):
				p.pushed[string(b)] = true
			case p.echoed < len(p.sent) && bytes.Equal(b, p.sent[p.echoed]):
				p.echoed++
			case p.bad == nil:
				p.bad = fmt.Errorf("frame %q does not echo what was sent (%d of %d echoed)", b, p.echoed, len(p.sent))
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// echo writes one echo frame of n bytes.
func (p *framedPeer) echo(n int, seq uint64) error {
	b := append([]byte("e:"), randomBytes(n, seq)...)
	p.mu.Lock()
	p.sent = append(p.sent, b)
	p.mu.Unlock()
	_, err := p.c.Write(frame(b))
	return err
}

// settled reports whether every echo came back and every payload in
// acked arrived.
func (p *framedPeer) settled(acked []string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.echoed < len(p.sent) {
		return false
	}
	for _, a := range acked {
		if !p.pushed[a] {
			return false
		}
	}
	return true
}

// pushedAll reports whether every payload in acked arrived.
func (p *framedPeer) pushedAll(acked []string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range acked {
		if !p.pushed[a] {
			return false
		}
	}
	return true
}

// check returns the first mismatch the reader saw.
func (p *framedPeer) check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bad
}

// bystanders are well-behaved peers that echo and receive SendSyncs
// while a scenario runs. With mayEnd (the scenario stops what they are
// connected to) a bystander's connection may end: it then stops, and
// only what it was sent before must have arrived.
type bystanders struct {
	peers    []*framedPeer
	pids     []*actor.PID
	acked    [][]string
	ended    []atomic.Bool
	mayEnd   bool
	nacked   atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
	sendErrs atomic.Int64
}

func (f *fixture) startBystanders(t *testing.T, kind string, mayEnd bool) *bystanders {
	b := &bystanders{stop: make(chan struct{}), acked: make([][]string, suiteBystanders),
		ended: make([]atomic.Bool, suiteBystanders), mayEnd: mayEnd}
	srv := f.servers[kind]
	for range suiteBystanders {
		c := f.dial(t, kind)
		b.peers = append(b.peers, startPeer(c))
		b.pids = append(b.pids, pidOf(t, srv, c))
	}
	failed := func(i int) {
		if b.mayEnd {
			b.ended[i].Store(true)
		} else {
			b.sendErrs.Add(1)
		}
	}
	for i, p := range b.peers {
		b.wg.Go(func() { // echoes, which also keep it clear of the idle timeout
			for seq := uint64(1); !b.ended[i].Load(); seq++ {
				select {
				case <-b.stop:
					return
				case <-time.After(10 * time.Millisecond): // the peer's pace
				}
				if err := p.echo(1+int(seq*7919%4096), uint64(i)<<32|seq); err != nil {
					failed(i)
					return
				}
			}
		})
	}
	b.wg.Go(func() { // SendSyncs to them, a round every millisecond
		for n := 0; ; n++ {
			i := n % len(b.pids)
			if i == 0 {
				select {
				case <-b.stop:
					return
				case <-time.After(time.Millisecond): // pacing
				}
			}
			if b.ended[i].Load() {
				continue
			}
			msg := fmt.Sprintf("ss:%d:%d", i, n)
			if err := client.SendSync(testkit.Ctx(t), f.sys.Root, b.pids[i], []byte(msg)); err != nil {
				failed(i)
				if !b.mayEnd {
					return
				}
				continue
			}
			b.acked[i] = append(b.acked[i], msg)
			b.nacked.Add(1)
		}
	})
	return b
}

// finish stops the bystanders, checks that nothing they were promised
// went missing, and closes them. It returns the SendSyncs acknowledged
// and delivered.
func (b *bystanders) finish(t *testing.T) (acked, delivered int64) {
	t.Helper()
	if !b.mayEnd { // at least a round of SendSyncs, however short the scenario
		require.Eventually(t, func() bool { return b.nacked.Load() >= int64(len(b.peers)) }, testkit.Wait, tick)
	}
	close(b.stop)
	b.wg.Wait()
	require.Zero(t, b.sendErrs.Load(), "a bystander's echo or SendSync failed")
	for i, p := range b.peers {
		ended := func() bool {
			select {
			case <-p.done:
				return b.mayEnd
			default:
				return false
			}
		}
		require.Eventually(t, func() bool {
			if ended() { // what was acknowledged arrived before the end
				return p.settled(nil) || p.pushedAll(b.acked[i])
			}
			return p.settled(b.acked[i]) || p.check() != nil
		}, testkit.Wait, tick, "bystander %d: echoes and acknowledged sends arrive", i)
		require.NoError(t, p.check())
		acked += int64(len(b.acked[i]))
		p.mu.Lock()
		for _, a := range b.acked[i] {
			if p.pushed[a] {
				delivered++
			}
		}
		p.mu.Unlock()
		p.c.Close()
		<-p.done
	}
	return acked, delivered
}

// scenario is one fault scenario against the fixture's server of kind.
type scenario struct {
	name  string
	kind  string
	run   func(t *testing.T, f *fixture) int // returns the faults injected
	stops bool                               // it stops what the bystanders are connected to
}

func TestFaultSuite(t *testing.T) {
	f := newFixture(t)
	for _, sc := range []scenario{
		{"reset-mid-frame", "tcp", resetMidFrame, false},
		{"reset-during-large-write", "tcp", resetDuringLargeWrite, false},
		{"half-close", "tcp", halfClose, false},
		{"silent-peers", "tcp", silentPeers, false},
		{"garbage-frames", "tcp", garbageFrames, false},
		{"oversized-frames", "tcp", oversizedFrames, false},
		{"tls-silent", "tls", tlsSilent, false},
		{"tls-garbage", "tls", tlsGarbage, false},
		{"handler-panics", "tcp", handlerPanics, false},
		{"random-stops", "tcp", randomStops, true},
	} {
		t.Run(sc.name, func(t *testing.T) { f.run(t, sc) })
	}
}

// run runs one scenario with its bystanders and checks what must hold
// after it.
func (f *fixture) run(t *testing.T, sc scenario) {
	srv, p := f.servers[sc.kind], f.probes[sc.kind]
	require.Eventually(t, func() bool { return srv.Info().Active == 0 }, testkit.Wait, tick)
	p.reset()
	before := srv.Info()
	// The baseline: what the process holds with the servers idle (the
	// shared poller's goroutine and descriptor go 100 ms after its last
	// registration).
	settle := func() (int, int) {
		var g, d int
		require.Eventually(t, func() bool {
			g1, d1 := runtime.NumGoroutine(), fds(t)
			stable := g1 == g && d1 == d
			g, d = g1, d1
			return stable
		}, testkit.Wait, 150*time.Millisecond)
		return g, d
	}
	g0, fd0 := settle()
	rss0 := rssKB(t)

	by := f.startBystanders(t, sc.kind, sc.stops)
	faults := sc.run(t, f)
	acked, delivered := by.finish(t)
	require.Equal(t, acked, delivered, "every acknowledged SendSync was delivered")

	require.Eventually(t, func() bool { return srv.Info().Active == 0 }, testkit.Wait, tick,
		"every connection of the scenario ended")
	requireInfoAddsUp(t, srv)
	after := srv.Info()
	conns := int(after.Accepted - before.Accepted)
	require.EqualValues(t, conns, after.Terminated-before.Terminated)
	p.requireOnce(t, int(p.nInit.Load()))

	fresh := f.dial(t, sc.kind) // still accepting, still byte-exact
	for i := range 3 {
		b := randomBytes(1+i*1000, uint64(i)+99)
		_, err := fresh.Write(frame(b))
		require.NoError(t, err)
		got, err := readFrame(fresh)
		require.NoError(t, err)
		require.Equal(t, b, got)
	}
	fresh.Close()
	require.Eventually(t, func() bool { return srv.Info().Active == 0 }, testkit.Wait, tick)

	g1, _ := awaitBaseline(t, g0, fd0)
	m, uniform := srv.Mode()
	require.True(t, uniform && m == server.ModeAccepting, "mode %v (uniform %v)", m, uniform)
	summary{name: sc.name, faults: faults, conns: conns + 1, acked: acked, delivered: delivered,
		goroutines0: g0, goroutines1: g1, rss0: rss0, rss1: rssKB(t)}.report(t)
}

// awaitBaseline waits until the goroutines and descriptors are back to
// their baseline, and returns them.
func awaitBaseline(t testing.TB, g0, fd0 int) (g1, fd1 int) {
	t.Helper()
	for deadline := time.Now().Add(testkit.Wait); ; {
		g1, fd1 = runtime.NumGoroutine(), fds(t)
		if g1 <= g0 && fd1 <= fd0 {
			return g1, fd1
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d (baseline %d), descriptors %d (baseline %d)\n%s", g1, g0, fd1, fd0,
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawTCP dials the plain server and returns the *net.TCPConn.
func rawTCP(t testing.TB, f *fixture) *net.TCPConn {
	t.Helper()
	return testkit.DialRaw(t, "tcp", f.servers["tcp"].Addr().String()).(*net.TCPConn)
}

// abort resets c: the peer's close is a RST.
func abort(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// Peers that reset in the middle of a frame.
func resetMidFrame(t *testing.T, f *fixture) int {
	const n = 50
	for i := range n {
		c := rawTCP(t, f)
		_, err := c.Write(frame(make([]byte, 100+i))[:50])
		require.NoError(t, err)
		abort(c)
	}
	return n
}

// Peers that reset while the server writes a large reply to them: the
// handler's 4 MiB answer, or a 2 MiB SendSync.
func resetDuringLargeWrite(t *testing.T, f *fixture) int {
	const n = 15
	srv := f.servers["tcp"]
	var wg sync.WaitGroup
	for i := range 2 * n {
		c := rawTCP(t, f)
		if i < n {
			_, err := c.Write(frame([]byte("big")))
			require.NoError(t, err)
		} else {
			pid := pidOf(t, srv, c)
			wg.Go(func() { _ = client.SendSync(testkit.Ctx(t), f.sys.Root, pid, make([]byte, 2<<20)) })
		}
		testkit.ReadN(t, c, 64<<10) // the write is under way
		abort(c)
	}
	wg.Wait() // every SendSync returned (nil or an error): none hangs
	return 2 * n
}

// Peers that send a frame and half-close: they get their echo, then the
// end of the stream.
func halfClose(t *testing.T, f *fixture) int {
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		c := rawTCP(t, f)
		msg := randomBytes(10+i, uint64(i))
		_, err := c.Write(frame(msg))
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		wg.Go(func() {
			defer c.Close()
			rest, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(rest, frame(msg)) {
				t.Errorf("half-closed peer %d: %v, %d bytes", i, err, len(rest))
			}
		})
	}
	wg.Wait()
	return n
}

// Peers that connect and say nothing: the idle timeout resets them.
func silentPeers(t *testing.T, f *fixture) int {
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		c := rawTCP(t, f)
		wg.Go(func() {
			defer c.Close()
			_, err := c.Read(make([]byte, 1))
			if !isReset(err) {
				t.Errorf("silent peer %d: %v, want a reset", i, err)
			}
		})
	}
	wg.Wait()
	require.GreaterOrEqual(t, f.probes["tcp"].reasonsMatching(actors.ErrIdleTimeout), n)
	return n
}

// Peers that send random bytes: a length prefix past the frame limit
// ends them (reset), or the idle timeout does.
func garbageFrames(t *testing.T, f *fixture) int {
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		c := rawTCP(t, f)
		_, err := c.Write(randomBytes(64+i, uint64(i)*31+7))
		require.NoError(t, err)
		wg.Go(func() {
			defer c.Close()
			if _, err := io.Copy(io.Discard, c); !isReset(err) {
				t.Errorf("garbage peer %d: %v, want a reset", i, err)
			}
		})
	}
	wg.Wait()
	return n
}

// Peers that announce a frame one byte over the limit:
// transport.ErrFrameTooLarge, and the peer sees a reset.
func oversizedFrames(t *testing.T, f *fixture) int {
	const n = 50
	var wg sync.WaitGroup
	for range n {
		c := rawTCP(t, f)
		_, err := c.Write(frame(make([]byte, suiteMaxFrame+1))[:1024])
		require.NoError(t, err)
		wg.Go(func() {
			defer c.Close()
			if _, err := io.Copy(io.Discard, c); !isReset(err) {
				t.Errorf("oversized peer: %v, want a reset", err)
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool { return f.probes["tcp"].reasonsMatching(transport.ErrFrameTooLarge) == n },
		testkit.Wait, tick)
	return n
}

// TLS peers that connect and never start their handshake, or stop in
// the middle of it: the handshake timeout ends them.
func tlsSilent(t *testing.T, f *fixture) int {
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		c := testkit.DialRaw(t, "tcp", f.servers["tls"].Addr().String())
		if i%2 == 1 {
			testkit.Write(t, c, "\x16\x03\x01\x02\x00\x01\x00\x01") // a ClientHello cut short
		}
		wg.Go(func() {
			defer c.Close()
			if _, err := io.Copy(io.Discard, c); isTimeout(err) {
				t.Errorf("silent TLS peer %d still open", i)
			}
		})
	}
	wg.Wait()
	return n
}

// TLS peers that send garbage instead of a ClientHello.
func tlsGarbage(t *testing.T, f *fixture) int {
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		c := testkit.DialRaw(t, "tcp", f.servers["tls"].Addr().String())
		testkit.Write(t, c, "GET / HTTP/1.0\r\n\r\n"+string(randomBytes(i, uint64(i))))
		wg.Go(func() {
			defer c.Close()
			if _, err := io.Copy(io.Discard, c); isTimeout(err) {
				t.Errorf("garbage TLS peer %d still open", i)
			}
		})
	}
	wg.Wait()
	return n
}

// 100 clients echo 20 frames each; every fifth makes its handler panic
// halfway: that connection ends (reset), the others carry on.
func handlerPanics(t *testing.T, f *fixture) int {
	const n = 100
	var wg sync.WaitGroup
	var panics atomic.Int64
	for i := range n {
		c := rawTCP(t, f)
		wg.Go(func() {
			defer c.Close()
			for j := range 20 {
				if i%5 == 0 && j == 10 {
					if _, err := c.Write(frame([]byte("panic"))); err != nil {
						t.Errorf("client %d: %v", i, err)
					}
					panics.Add(1)
					if _, err := io.Copy(io.Discard, c); !isReset(err) {
						t.Errorf("client %d after a panic: %v, want a reset", i, err)
					}
					return
				}
				msg := randomBytes(1+j*100, uint64(i*100+j))
				if _, err := c.Write(frame(msg)); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				got, err := readFrame(c)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("client %d frame %d: %v", i, j, err)
					return
				}
			}
			c.Close()
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool { return f.probes["tcp"].reasonsMatching(actors.ErrCallbackPanic) == int(panics.Load()) },
		testkit.Wait, tick)
	return int(panics.Load())
}

// 100 clients echo, reconnecting when their connection ends, and two
// more connect, echo once and leave, over and over, while acceptors and
// connection supervisors are stopped at random. Every stop is prompt,
// everything stopped is restarted, and no echo is ever wrong.
func randomStops(t *testing.T, f *fixture) int {
	const clients = 100
	const stops = 30
	srv := f.servers["tcp"]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var echoes, reconnects atomic.Int64
	var lastRound sync.Map // client -> echoes after the last stop
	addr := srv.Addr().String()
	dial := func() net.Conn { // from the clients' goroutines: no require there
		c, err := net.DialTimeout("tcp", addr, testkit.Wait)
		if err != nil {
			t.Errorf("dial: %v", err)
			return nil
		}
		c.SetDeadline(time.Now().Add(testkit.Wait))
		return c
	}
	for i := range clients {
		wg.Go(func() {
			c := dial()
			if c == nil {
				return
			}
			defer func() { c.Close() }()
			for j := uint64(0); ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				c.SetDeadline(time.Now().Add(testkit.Wait))
				msg := randomBytes(1+int(j%512), uint64(i)<<32|j)
				_, err := c.Write(frame(msg))
				var got []byte
				if err == nil {
					got, err = readFrame(c)
				}
				if err != nil { // its connection supervisor was stopped: reconnect
					c.Close()
					reconnects.Add(1)
					if c = dial(); c == nil {
						return
					}
					continue
				}
				if !bytes.Equal(got, msg) {
					t.Errorf("client %d: a wrong echo", i)
					return
				}
				echoes.Add(1)
				lastRound.Store(i, true)
				time.Sleep(time.Millisecond) // pacing
			}
		})
	}
	for range 2 {
		wg.Go(func() { // churn: new connections while things are stopped
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := dial()
				if c == nil {
					return
				}
				msg := []byte("churn")
				if _, err := c.Write(frame(msg)); err == nil {
					if got, err := readFrame(c); err == nil && !bytes.Equal(got, msg) {
						t.Error("churn: a wrong echo")
					}
				}
				c.Close()
			}
		})
	}
	require.Eventually(t, func() bool { return echoes.Load() > clients }, testkit.Wait, tick)
	before := srv.Info()
	rng := rand.New(rand.NewPCG(1, 2))
	acceptors, supervisors := 0, 0
	for range stops {
		var pid *actor.PID
		if rng.IntN(2) == 0 {
			a := srv.Acceptors()[rng.IntN(len(srv.Acceptors()))]
			if pid = a.PID; pid == nil {
				continue // restarting
			}
			acceptors++
		} else {
			pid = actor.NewPID(f.sys.Address(), fmt.Sprintf("%s/conns-%d", srv.PID().Id, 1+rng.IntN(len(srv.Acceptors()))))
			supervisors++
		}
		stopPrompt(t, f.sys, pid)
		time.Sleep(time.Duration(10+rng.IntN(30)) * time.Millisecond) // pacing
	}
	require.Eventually(t, func() bool {
		info := srv.Info()
		m, uniform := srv.Mode()
		return info.AcceptorRestarts-before.AcceptorRestarts == int64(acceptors) &&
			info.ConnsRestarts-before.ConnsRestarts == int64(supervisors) && uniform && m == server.ModeAccepting
	}, testkit.Wait, tick, "everything stopped was restarted")
	lastRound.Clear()
	require.Eventually(t, func() bool { n := 0; lastRound.Range(func(any, any) bool { n++; return true }); return n == clients },
		testkit.Wait, tick, "every client echoes after the last stop")
	close(stop)
	wg.Wait()
	t.Logf("%d echoes, %d reconnections, %d acceptor and %d supervisor stops", echoes.Load(), reconnects.Load(),
		acceptors, supervisors)
	return acceptors + supervisors
}

// isReset reports whether err is a reset.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
