// Package transporttest is a conformance suite for
// [transport.Transport] implementations: one test body that the built-in
// transports run, and that a transport of your own can run too.
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, mytransport.New(), func(t *testing.T) string {
//			return "127.0.0.1:0"
//		})
//	}
//
// It checks what the connection actor and the acceptors rely on: Listen and
// Addr, Accept without a handshake, Dial, Handshake on both sides, bytes
// both ways, the half-close, Listener.SetDeadline as the way to put
// acceptors to sleep, Close waking them with [net.ErrClosed], and socket
// options reading back what was set.
//
// For framers, [Feed] gives a stream to a [transport.Framer] as a
// connection does, chunk by chunk, so that a [transport.Resumer] can be
// checked against its own Decode.
package transporttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/etcp-go/etcp/transport"
)

// Timeout bounds every step of the suite; a step that takes longer fails.
const Timeout = 10 * time.Second

// Run runs the conformance suite against tr, one subtest per property.
// addr returns a fresh address to listen on, such as "127.0.0.1:0" or a
// path in t.TempDir(); dialling its listener's Addr().String() must reach it.
func Run(t *testing.T, tr transport.Transport, addr func(t *testing.T) string) {
	t.Helper()
	s := suite{tr: tr, addr: addr}
	tests := []struct {
		name string
		run  func(*testing.T)
	}{
		{"ListenAddr", s.listenAddr},
		{"ListenTwiceFails", s.listenTwiceFails},
		{"Names", s.names},
		{"Echo", s.echo},
		{"CloseWrite", s.closeWrite},
		{"AcceptDeadline", s.acceptDeadline},
		{"CloseUnblocksAccept", s.closeUnblocksAccept},
		{"ConcurrentAccept", s.concurrentAccept},
		{"DialCanceled", s.dialCanceled},
		{"DialRefused", s.dialRefused},
		{"SocketOptions", s.socketOptions},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

type suite struct {
	tr   transport.Transport
	addr func(*testing.T) string
}

func options() *transport.Options {
	o := transport.Defaults()
	return &o
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return c
}

// listen opens a listener that the test closes when it ends.
func (s suite) listen(t *testing.T) transport.Listener {
	t.Helper()
	ln, err := s.tr.Listen(ctx(t), s.addr(t), options())
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func (s suite) dial(t *testing.T, ln transport.Listener) transport.Conn {
	t.Helper()
	c, err := s.tr.Dial(ctx(t), ln.Addr().String(), options())
	if err != nil {
		t.Fatalf("Dial %s: %v", ln.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type accepted struct {
	c   transport.Conn
	err error
}

func acceptAsync(ln transport.Listener) <-chan accepted {
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	return ch
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Timeout):
		t.Fatalf("%s: still waiting after %v", what, Timeout)
		panic("unreachable")
	}
}

// handshake runs both sides' handshakes at once, as two actors would.
func handshake(t *testing.T, client, server transport.Conn) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake(ctx(t)) }()
	cerr := client.Handshake(ctx(t))
	serr := wait(t, errc, "server Handshake")
	if cerr != nil || serr != nil {
		t.Fatalf("Handshake: client %v, server %v", cerr, serr)
	}
}

// pair returns a connected, handshaken client and server. Both have
// deadlines so that a broken transport fails instead of hanging.
func (s suite) pair(t *testing.T, ln transport.Listener) (client, server transport.Conn) {
	t.Helper()
	ch := acceptAsync(ln)
	client = s.dial(t, ln)
	a := wait(t, ch, "Accept")
	if a.err != nil {
		t.Fatalf("Accept: %v", a.err)
	}
	server = a.c
	t.Cleanup(func() { server.Close() })
	deadline := time.Now().Add(Timeout)
	for _, c := range []transport.Conn{client, server} {
		if err := c.SetDeadline(deadline); err != nil {
			t.Fatalf("SetDeadline: %v", err)
		}
	}
	handshake(t, client, server)
	return client, server
}

func (s suite) listenAddr(t *testing.T) {
	ln := s.listen(t)
	if ln.Addr() == nil || ln.Addr().String() == "" {
		t.Fatalf("Addr() = %v, want the bound address", ln.Addr())
	}
	client, server := s.pair(t, ln)
	if ra, la := client.RemoteAddr(), server.LocalAddr(); ra == nil || la == nil || ra.String() != la.String() {
		t.Errorf("client RemoteAddr %v, server LocalAddr %v: want the same address", ra, la)
	}
}

func (s suite) listenTwiceFails(t *testing.T) {
	ln := s.listen(t)
	ln2, err := s.tr.Listen(ctx(t), ln.Addr().String(), options())
	if err == nil {
		ln2.Close()
		t.Fatalf("second Listen on %s succeeded, want an error", ln.Addr())
	}
	// The first listener still works.
	s.pair(t, ln)
}

func (s suite) names(t *testing.T) {
	client, server := s.pair(t, s.listen(t))
	for side, c := range map[string]transport.Conn{"client": client, "server": server} {
		if got := c.Transport(); got != s.tr.Name() {
			t.Errorf("%s Transport() = %q, want %q", side, got, s.tr.Name())
		}
	}
}

func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

func (s suite) echo(t *testing.T) {
	client, server := s.pair(t, s.listen(t))
	// More than the socket buffers hold, so both directions flow at once.
	want := pattern(1 << 20)
	var wg sync.WaitGroup
	defer wg.Wait()
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, err := io.CopyN(server, server, int64(len(want)))
		errs <- err
	}()
	go func() {
		defer wg.Done()
		_, err := client.Write(want)
		errs <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("client read of the echo: %v", err)
	}
	for range 2 {
		if err := wait(t, errs, "echo"); err != nil {
			t.Fatalf("echo: %v", err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("echoed bytes differ from the bytes sent")
	}
	// And a message that the server starts.
	msg := []byte("from the server")
	if _, err := server.Write(msg); err != nil {
		t.Fatalf("server Write: %v", err)
	}
	got = make([]byte, len(msg))
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("client read %q, %v; want %q", got, err, msg)
	}
}

func (s suite) closeWrite(t *testing.T) {
	client, server := s.pair(t, s.listen(t))
	if _, err := client.Write([]byte("last words")); err != nil {
		t.Fatalf("client Write: %v", err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatalf("client CloseWrite: %v", err)
	}
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "last words" {
		t.Fatalf("server read %q, %v; want %q then EOF", got, err, "last words")
	}
	// The other direction still works after a half-close.
	if _, err := server.Write([]byte("reply")); err != nil {
		t.Fatalf("server Write after the peer's CloseWrite: %v", err)
	}
	if err := server.Close(); err != nil {
		t.Fatalf("server Close: %v", err)
	}
	got, err = io.ReadAll(client)
	if err != nil || string(got) != "reply" {
		t.Fatalf("client read %q, %v; want %q then EOF", got, err, "reply")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s suite) acceptDeadline(t *testing.T) {
	ln := s.listen(t)
	ch := acceptAsync(ln)
	time.Sleep(50 * time.Millisecond) // let Accept block
	if err := ln.SetDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("SetDeadline(past): %v", err)
	}
	if a := wait(t, ch, "blocked Accept after SetDeadline(past)"); !isTimeout(a.err) {
		if a.c != nil {
			a.c.Close()
		}
		t.Fatalf("blocked Accept returned %v, want a net.Error timeout", a.err)
	}
	if a := wait(t, acceptAsync(ln), "Accept with a past deadline"); !isTimeout(a.err) {
		t.Fatalf("Accept with a past deadline returned %v, want a net.Error timeout", a.err)
	}
	if err := ln.SetDeadline(time.Time{}); err != nil {
		t.Fatalf("SetDeadline(zero): %v", err)
	}
	s.pair(t, ln) // accepts again
}

func (s suite) closeUnblocksAccept(t *testing.T) {
	ln := s.listen(t)
	ch := acceptAsync(ln)
	time.Sleep(50 * time.Millisecond) // let Accept block
	if err := ln.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	a := wait(t, ch, "Accept after Close")
	if !errors.Is(a.err, net.ErrClosed) {
		t.Fatalf("Accept after Close returned %v, want net.ErrClosed", a.err)
	}
}

func (s suite) concurrentAccept(t *testing.T) {
	const acceptors, conns = 4, 16
	ln := s.listen(t)
	got := make(chan transport.Conn, conns)
	var wg sync.WaitGroup
	for range acceptors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				got <- c
			}
		}()
	}
	for range conns {
		s.dial(t, ln)
	}
	for range conns {
		c := wait(t, got, "concurrent Accept")
		c.Close()
	}
	ln.Close()
	wg.Wait()
}

func (s suite) dialCanceled(t *testing.T) {
	ln := s.listen(t)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if conn, err := s.tr.Dial(c, ln.Addr().String(), options()); err == nil {
		conn.Close()
		t.Fatal("Dial with a canceled context succeeded")
	}
}

func (s suite) dialRefused(t *testing.T) {
	ln := s.listen(t)
	addr := ln.Addr().String()
	ln.Close()
	if conn, err := s.tr.Dial(ctx(t), addr, options()); err == nil {
		conn.Close()
		t.Fatalf("Dial to closed listener %s succeeded", addr)
	}
}

// socketOptions sets options and reads them back on both sides. A transport
// that does not support NoDelay and KeepAlive reports both as zero; buffer
// sizes must apply (the kernel may round them up).
func (s suite) socketOptions(t *testing.T) {
	client, server := s.pair(t, s.listen(t))
	const buf = 64 << 10
	for side, c := range map[string]transport.Conn{"client": client, "server": server} {
		on := transport.SocketOptions{NoDelay: true, KeepAlive: 30 * time.Second, ReadBuffer: buf, WriteBuffer: buf}
		if err := c.SetSocketOptions(on); err != nil {
			t.Fatalf("%s SetSocketOptions(%+v): %v", side, on, err)
		}
		got, err := c.SocketOptions()
		if err != nil {
			t.Fatalf("%s SocketOptions: %v", side, err)
		}
		if got.ReadBuffer < buf || got.WriteBuffer < buf {
			t.Errorf("%s buffers read back %d/%d, want at least %d", side, got.ReadBuffer, got.WriteBuffer, buf)
		}
		supported := got.NoDelay || got.KeepAlive != 0
		if supported && (!got.NoDelay || got.KeepAlive != on.KeepAlive) {
			t.Errorf("%s read back NoDelay %v KeepAlive %v, want %v %v", side, got.NoDelay, got.KeepAlive, on.NoDelay, on.KeepAlive)
		}
		if !supported {
			t.Logf("%s: NoDelay and KeepAlive not supported", side)
		}
		off := transport.SocketOptions{ReadBuffer: buf, WriteBuffer: buf}
		if err := c.SetSocketOptions(off); err != nil {
			t.Fatalf("%s SetSocketOptions(%+v): %v", side, off, err)
		}
		if got, err = c.SocketOptions(); err != nil {
			t.Fatalf("%s SocketOptions: %v", side, err)
		}
		if got.NoDelay || got.KeepAlive != 0 {
			t.Errorf("%s read back NoDelay %v KeepAlive %v after turning both off", side, got.NoDelay, got.KeepAlive)
		}
	}
}
