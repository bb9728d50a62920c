package server_test

// Benchmarks: an etcp echo server (server.Start, raw framing, one actor per
// connection) against a plain net goroutine-per-connection echo server, as
// sub-benchmarks "etcp" and "net" of the same benchmark. The client is a
// plain net.Conn in this process and its code is identical for both, so
// differences in ns/op and allocs/op (which count every allocation in the
// process, client and server) come from the server.
//
//	go test -run='^$' -bench=. -benchtime=2s -count=3 ./server/

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// benchEcho sends every packet back, as examples/echo does.
type benchEcho struct{ behaviours.Base }

func (benchEcho) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p)
}

// hibernatingEcho sends every packet back and hibernates: each round trip
// wakes a passivated connection and passivates it again.
type hibernatingEcho struct{ behaviours.Base }

func (hibernatingEcho) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p).Hibernate()
}

// startEtcp starts an etcp echo server on 127.0.0.1:0 and returns its
// address and a function that stops it.
func startEtcp(b *testing.B) (string, func()) {
	return startEtcpWith(b, func() behaviours.Handler { return benchEcho{} })
}

// startEtcpLoop serves from one event loop (actors.WithEventLoop).
func startEtcpLoop(b *testing.B) (string, func()) {
	return startEtcpWith(b, func() behaviours.Handler { return benchEcho{} }, actors.WithEventLoop(1))
}

func startEtcpWith(b *testing.B, factory behaviours.Factory, opts ...server.Option) (string, func()) {
	b.Helper()
	discard := slog.New(slog.DiscardHandler)
	// A short dead-letter throttle interval, as the test suites use, so that
	// the throttle's goroutine (started by dead letters during Stop) ends
	// before goleak looks.
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond))
	srv, err := server.Start(sys, factory, nil, "127.0.0.1:0", append([]server.Option{
		actors.WithLogger(discard), actors.WithSocket(transport.WithFramer(transport.Raw()))}, opts...)...)
	if err != nil {
		sys.Shutdown()
		b.Fatal(err)
	}
	return srv.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx, nil); err != nil {
			b.Error(err)
		}
		sys.Shutdown()
	}
}

// startNet starts a plain net echo server on 127.0.0.1:0, one goroutine per
// connection looping Read then Write on a 4 KiB buffer (as test/load's
// baseline), and returns its address and a function that stops it.
func startNet(b *testing.B) (string, func()) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

type echoServer struct {
	name  string
	start func(*testing.B) (string, func())
}

var servers = []echoServer{
	{"etcp", startEtcp},
	{"etcp-loop", startEtcpLoop},
	{"net", startNet},
}

// pinger is one client connection doing size-byte round trips.
type pinger struct {
	c         net.Conn
	msg, rbuf []byte
}

func newPinger(b *testing.B, addr string, size int) *pinger {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	p := &pinger{c: c, msg: make([]byte, size), rbuf: make([]byte, size)}
	for i := range p.msg {
		p.msg[i] = byte(i*7 + 1)
	}
	if err := p.roundTrip(); err != nil { // warm up: connection accepted and served
		c.Close()
		b.Fatal(err)
	}
	return p
}

func (p *pinger) roundTrip() error {
	if _, err := p.c.Write(p.msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(p.c, p.rbuf); err != nil {
		return err
	}
	if !bytes.Equal(p.msg, p.rbuf) {
		return fmt.Errorf("echo mismatch")
	}
	return nil
}

// benchPingPong runs size-byte round trips over one loopback connection
// per server.
func benchPingPong(b *testing.B, size int) { benchPingPongOn(b, servers, size) }

// BenchmarkPingPongHibernated64 prices passivation: every round trip of
// the etcp side wakes a passivated connection (a new actor, the socket
// attached again) and passivates it after the reply.
func BenchmarkPingPongHibernated64(b *testing.B) {
	benchPingPongOn(b, []echoServer{
		{"etcp", func(b *testing.B) (string, func()) {
			return startEtcpWith(b, func() behaviours.Handler { return hibernatingEcho{} })
		}},
		{"net", startNet},
	}, 64)
}

func benchPingPongOn(b *testing.B, servers []echoServer, size int) {
	for _, s := range servers {
		b.Run(s.name, func(b *testing.B) {
			addr, stop := s.start(b)
			defer stop()
			p := newPinger(b, addr, size)
			defer p.c.Close()
			if err := p.c.SetDeadline(time.Now().Add(10 * time.Minute)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := p.roundTrip(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
		})
	}
}

func BenchmarkPingPong64(b *testing.B)    { benchPingPong(b, 64) }
func BenchmarkPingPong1024(b *testing.B)  { benchPingPong(b, 1024) }
func BenchmarkPingPong16384(b *testing.B) { benchPingPong(b, 16384) }

// BenchmarkPingPongParallel64 runs 64-byte round trips over several
// connections at once: 4×GOMAXPROCS goroutines, one connection each.
func BenchmarkPingPongParallel64(b *testing.B) {
	const size = 64
	for _, s := range servers {
		b.Run(s.name, func(b *testing.B) {
			addr, stop := s.start(b)
			defer stop()
			var (
				mu      sync.Mutex
				pingers []*pinger
			)
			defer func() {
				for _, p := range pingers {
					p.c.Close()
				}
			}()
			b.SetParallelism(4)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					b.Error(err)
					return
				}
				p := &pinger{c: c, msg: bytes.Repeat([]byte{0x5a}, size), rbuf: make([]byte, size)}
				mu.Lock()
				pingers = append(pingers, p)
				mu.Unlock()
				if err := c.SetDeadline(time.Now().Add(10 * time.Minute)); err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					if err := p.roundTrip(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
		})
	}
}

// BenchmarkAcceptClose prices a connection's whole life: each op dials,
// exchanges one byte, closes, and waits until the server has ended the
// connection too (its Terminate ran, its goroutines are gone, for etcp;
// its goroutine returned, for net), one at a time.
func BenchmarkAcceptClose(b *testing.B) {
	for _, s := range servers {
		b.Run(s.name, func(b *testing.B) {
			addr, stop := s.start(b)
			defer stop()
			one := []byte{1}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				acceptOnce(b, addr, one, true)
			}
			b.StopTimer()
		})
	}
}

// acceptOnce connects to addr, exchanges one byte and waits for the
// server's close: after its own (closeFirst), or unprompted.
// one is a 1-byte buffer, made by the caller once.
func acceptOnce(b *testing.B, addr string, one []byte, closeFirst bool) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(one); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, one); err != nil {
		b.Fatal(err)
	}
	if closeFirst {
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			b.Fatal(err)
		}
	}
	// The server closes its side (once it has seen the end): EOF here.
	if _, err := c.Read(one); err != io.EOF {
		b.Fatalf("want EOF, got %v", err)
	}
}

// stopEcho sends the first packet back and ends its connection with a
// reason.
type stopEcho struct{ behaviours.Base }

var errBye = errors.New("bye")

func (stopEcho) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	return behaviours.Send(p).Stop(errBye)
}

// BenchmarkAcceptStop is BenchmarkAcceptClose for an etcp connection its
// handler ends with a reason (the server closes first): what ending with
// a reason costs beyond ending at the peer's close, the debug line it
// logs when the level is on included.
func BenchmarkAcceptStop(b *testing.B) {
	addr, stop := startEtcpWith(b, func() behaviours.Handler { return stopEcho{} })
	defer stop()
	one := []byte{1}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		acceptOnce(b, addr, one, false)
	}
	b.StopTimer()
}
