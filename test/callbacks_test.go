package test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

var (
	errBoom = errors.New("boom")
	errBye  = errors.New("bye")
)

// connOf waits until srv has exactly one connection and returns it.
func connOf(t *testing.T, srv *server.Server) actors.ConnInfo {
	t.Helper()
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 1 }, testkit.Wait, time.Millisecond)
	return testkit.Conns(t, srv)[0]
}

// initSpy reports its init argument and the connection's metadata.
type initSpy struct{ base }

type spyArg struct {
	p   *probe
	tag string
}

type initSeen struct {
	tag            string
	local, remote  string
	self           bool
	id             uint64
	transport      string
	passive, tlsOn bool
}

func (h *initSpy) Init(c behaviours.Conn, arg any) behaviours.Result {
	a := arg.(spyArg)
	h.p = a.p
	h.p.emit("init", initSeen{tag: a.tag, local: c.LocalAddr().String(), remote: c.RemoteAddr().String(),
		self: c.Self() != nil, id: c.ID(), transport: c.Transport(), passive: c.Passive(), tlsOn: c.TLS() != nil})
	return behaviours.Continue()
}

func TestInitReceivesArgAndMetadata(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &initSpy{} }, spyArg{p, "server-arg"})

	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	got := p.expect(t, "init").val.(initSeen)
	assert.Equal(t, "server-arg", got.tag)
	assert.Equal(t, srv.Addr().String(), got.local)
	assert.Equal(t, raw.LocalAddr().String(), got.remote)
	assert.True(t, got.self)
	assert.NotZero(t, got.id)
	assert.Equal(t, "tcp", got.transport)
	assert.False(t, got.passive)
	assert.False(t, got.tlsOn)

	cp := newProbe()
	testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &initSpy{} }, spyArg{cp, "client-arg"})
	got = cp.expect(t, "init").val.(initSeen)
	assert.Equal(t, "client-arg", got.tag)
	assert.Equal(t, srv.Addr().String(), got.remote)
	assert.True(t, got.self)
}

// decliner declines every connection.
type decliner struct{ base }

func (h *decliner) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	h.p.emit("init", nil)
	return behaviours.Decline()
}

func TestInitDeclineOnClient(t *testing.T) {
	sys := testkit.NewSystem(t)
	sp := newProbe()
	srv := testkit.StartServer(t, sys, "", newEcho, sp)

	cp := newProbe()
	_, err := testkit.TryDial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &decliner{} }, cp)
	require.ErrorIs(t, err, actors.ErrDeclined)
	cp.expect(t, "init")

	// The server saw the socket come and go; the declined side never ran
	// Terminate.
	sp.expect(t, "init")
	assert.NoError(t, sp.terminated(t))
	assert.Zero(t, cp.nterm.Load())
}

func TestInitDeclineOnServer(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &decliner{} }, p)

	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	p.expect(t, "init")
	requireEOF(t, raw, "") // closed quietly
	assert.Empty(t, testkit.Conns(t, srv))

	require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
	assert.Zero(t, p.nterm.Load(), "Terminate ran for a declined connection")
}

// initEnder ends the connection from Init with the Result it is given.
type initEnder struct {
	base
	r behaviours.Result
}

func TestInitCloseOrStopFailsDial(t *testing.T) {
	tests := []struct {
		name    string
		result  behaviours.Result
		wantErr error
		sent    string
		reason  error
	}{
		{"close", behaviours.Close(), actors.ErrClosed, "", nil},
		{"send then close", behaviours.Send([]byte("hi")).Close(), actors.ErrClosed, "hi", nil},
		{"stop", behaviours.Stop(errBoom), errBoom, "", errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			sp := newProbe()
			srv := testkit.StartServer(t, sys, "", newSink, sp)
			cp := newProbe()
			f := func() behaviours.Handler { return &initEnder{base: base{p: cp}, r: tt.result} }
			_, err := testkit.TryDial(t, sys, srv.Addr().String(), f, nil)
			require.ErrorIs(t, err, tt.wantErr)
			// Init ran, so Terminate does, once, with the reason.
			assert.Equal(t, tt.reason, cp.terminated(t))

			sp.expect(t, "init")
			if tt.sent != "" {
				assert.Equal(t, tt.sent, sp.expect(t, "packet").val)
			}
			assert.NoError(t, sp.terminated(t), "the server side sees a normal disconnect")
			assert.Equal(t, int32(1), cp.nterm.Load())
		})
	}
}

func (h *initEnder) Init(behaviours.Conn, any) behaviours.Result { return h.r }

// caller answers calls: now, with an error, or later from HandlePacket
// once the request has made a round trip through an echo server.
type caller struct {
	base
	held behaviours.From
}

func (h *caller) HandleCall(_ behaviours.Conn, req any, from behaviours.From) behaviours.Result {
	switch req := req.(type) {
	case string:
		return behaviours.Reply("pong:" + req)
	case error:
		return behaviours.Reply(req)
	case []byte: // answered later, when the echo comes back
		h.held = from
		return behaviours.Send(req)
	}
	return h.base.HandleCall(nil, req, from)
}

func (h *caller) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	from := h.held
	h.held = behaviours.From{}
	return behaviours.ReplyTo(from, "later:"+string(p))
}

func newCaller() behaviours.Handler { return &caller{} }

func TestHandleCall(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	pid := testkit.Dial(t, sys, srv.Addr().String(), newCaller, newProbe())

	t.Run("reply now", func(t *testing.T) {
		v, err := client.Call(testkit.Ctx(t), sys.Root, pid, "ping")
		require.NoError(t, err)
		assert.Equal(t, "pong:ping", v)
	})
	t.Run("error reply", func(t *testing.T) {
		_, err := client.Call(testkit.Ctx(t), sys.Root, pid, errBoom)
		assert.ErrorIs(t, err, errBoom)
	})
	t.Run("reply later from another callback", func(t *testing.T) {
		v, err := client.Call(testkit.Ctx(t), sys.Root, pid, []byte("round trip"))
		require.NoError(t, err)
		assert.Equal(t, "later:round trip", v)
	})
	t.Run("unhandled call answered at once", func(t *testing.T) {
		start := time.Now()
		_, err := client.Call(testkit.Ctx(t), sys.Root, pid, 42)
		require.ErrorIs(t, err, behaviours.ErrUnhandledCall)
		assert.Less(t, time.Since(start), actors.DefaultRequestTimeout/2)
		// The connection lives on.
		v, err := client.Call(testkit.Ctx(t), sys.Root, pid, "again")
		require.NoError(t, err)
		assert.Equal(t, "pong:again", v)
	})
}

// releaser keeps a call and answers it from HandleCast.
type releaser struct {
	base
	held behaviours.From
}

func (h *releaser) HandleCall(_ behaviours.Conn, _ any, from behaviours.From) behaviours.Result {
	h.held = from
	h.p.emit("held", nil)
	return behaviours.Continue()
}

func (h *releaser) HandleCast(_ behaviours.Conn, msg any) behaviours.Result {
	return behaviours.ReplyTo(h.held, msg)
}

func TestReplyLaterFromCast(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	p := newProbe()
	pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &releaser{} }, p)
	p.expect(t, "init")

	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := client.Call(testkit.Ctx(t), sys.Root, pid, "wait")
		done <- result{v, err}
	}()
	p.expect(t, "held")
	select {
	case r := <-done:
		t.Fatalf("the call returned before the handler replied: %v", r)
	default:
	}
	client.Cast(sys.Root, pid, "released")
	select {
	case r := <-done:
		require.NoError(t, r.err)
		assert.Equal(t, "released", r.v)
	case <-time.After(testkit.Wait):
		t.Fatal("the deferred reply never arrived")
	}
}

// mailSpy reports casts, events and other messages.
type mailSpy struct{ base }

func (h *mailSpy) HandleCast(_ behaviours.Conn, m any) behaviours.Result {
	h.p.emit("cast", m)
	return behaviours.Continue()
}

func (h *mailSpy) HandleEvent(_ behaviours.Conn, e any) behaviours.Result {
	h.p.emit("event", e)
	return behaviours.Continue()
}

func (h *mailSpy) HandleInfo(_ behaviours.Conn, m any) behaviours.Result {
	h.p.emit("info", m)
	return behaviours.Continue()
}

type custom struct{ n int }

func TestCastEventInfo(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	p := newProbe()
	pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &mailSpy{} }, p)
	p.expect(t, "init")

	client.Cast(sys.Root, pid, "c1")
	client.Event(sys.Root, pid, "e1")
	client.Info(sys.Root, pid, "i1")
	sys.Root.Send(pid, &custom{7}) // any non-etcp message is info
	client.Cast(sys.Root, pid, "c2")

	assert.Equal(t, "c1", p.expect(t, "cast").val)
	assert.Equal(t, "e1", p.expect(t, "event").val)
	assert.Equal(t, "i1", p.expect(t, "info").val)
	assert.Equal(t, &custom{7}, p.expect(t, "info").val)
	assert.Equal(t, "c2", p.expect(t, "cast").val)
}

// disconnectSpy reports HandleDisconnect.
type disconnectSpy struct{ base }

func (h *disconnectSpy) HandleDisconnect(behaviours.Conn) behaviours.Result {
	h.p.emit("disconnect", nil)
	return behaviours.Continue()
}

func TestHandleDisconnectThenTerminate(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &disconnectSpy{} }, p)

	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	p.expect(t, "init")
	connOf(t, srv)
	require.NoError(t, raw.Close())
	p.expect(t, "disconnect")
	assert.NoError(t, p.terminated(t))
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 0 }, testkit.Wait, time.Millisecond)
	require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
	assert.Equal(t, int32(1), p.nterm.Load())
}

// multiSender sends several packets from one Result.
type multiSender struct{ base }

func (h *multiSender) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	return behaviours.Send([]byte("hello ")).Send([]byte("world "))
}

func (h *multiSender) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.p.emit("packet", string(p))
	if string(p) == "bye" {
		return behaviours.Send([]byte("see ")).Send([]byte("you")).Close()
	}
	return behaviours.Send([]byte("a")).Send([]byte("bb")).Send([]byte("ccc"))
}

func TestSendInOrderAndCloseAfterSend(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &multiSender{} }, p)

	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	assert.Equal(t, "hello world ", string(testkit.ReadN(t, raw, len("hello world "))))
	_, err := raw.Write([]byte("x"))
	require.NoError(t, err)
	assert.Equal(t, "x", p.expect(t, "packet").val)
	assert.Equal(t, "abbccc", string(testkit.ReadN(t, raw, 6)))

	_, err = raw.Write([]byte("bye"))
	require.NoError(t, err)
	requireEOF(t, raw, "see you") // every byte, then EOF
	assert.NoError(t, p.terminated(t))
}

// stopper ends its connection in the ways Terminate must see.
type stopper struct{ base }

func (h *stopper) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	switch string(p) {
	case "stop":
		return behaviours.Stop(errBoom)
	case "panic":
		panic("kaboom")
	}
	return behaviours.Send(bytes.Clone(p))
}

func TestTerminateRunsOnce(t *testing.T) {
	tests := []struct {
		name  string
		end   func(t *testing.T, sys *actor.ActorSystem, srv *server.Server, raw net.Conn)
		check func(t *testing.T, reason error)
	}{
		{"peer close", func(t *testing.T, _ *actor.ActorSystem, _ *server.Server, raw net.Conn) {
			require.NoError(t, raw.Close())
		}, func(t *testing.T, reason error) { assert.NoError(t, reason) }},
		{"Stop result", func(t *testing.T, _ *actor.ActorSystem, _ *server.Server, raw net.Conn) {
			_, err := raw.Write([]byte("stop"))
			require.NoError(t, err)
			requireEOF(t, raw, "")
		}, func(t *testing.T, reason error) { assert.ErrorIs(t, reason, errBoom) }},
		{"server stop with reason", func(t *testing.T, _ *actor.ActorSystem, srv *server.Server, raw net.Conn) {
			require.NoError(t, srv.Stop(testkit.Ctx(t), errBye))
			requireEOF(t, raw, "")
		}, func(t *testing.T, reason error) { assert.ErrorIs(t, reason, errBye) }},
		{"server stop without reason", func(t *testing.T, _ *actor.ActorSystem, srv *server.Server, raw net.Conn) {
			require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
			requireEOF(t, raw, "")
		}, func(t *testing.T, reason error) { assert.ErrorIs(t, reason, actors.ErrShutdown) }},
		{"client.Stop with reason", func(t *testing.T, sys *actor.ActorSystem, srv *server.Server, raw net.Conn) {
			require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, connOf(t, srv).PID, errBye))
			requireEOF(t, raw, "")
		}, func(t *testing.T, reason error) { assert.ErrorIs(t, reason, errBye) }},
		{"client.Stop without reason", func(t *testing.T, sys *actor.ActorSystem, srv *server.Server, raw net.Conn) {
			require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, connOf(t, srv).PID, nil))
			requireEOF(t, raw, "")
		}, func(t *testing.T, reason error) { assert.NoError(t, reason) }},
		{"panic", func(t *testing.T, _ *actor.ActorSystem, _ *server.Server, raw net.Conn) {
			_, err := raw.Write([]byte("panic"))
			require.NoError(t, err)
			requireReset(t, raw, "")
		}, func(t *testing.T, reason error) {
			require.ErrorIs(t, reason, actors.ErrCallbackPanic)
			var ce *actors.CallbackError
			require.ErrorAs(t, reason, &ce)
			assert.Equal(t, "HandlePacket", ce.Callback)
			assert.Equal(t, "kaboom", ce.Cause)
			assert.NotEmpty(t, ce.Stack)
			assert.Contains(t, reason.Error(), "HandlePacket")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			p := newProbe()
			srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &stopper{} }, p)
			raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
			p.expect(t, "init")
			roundTrip(t, raw, "up")

			tt.end(t, sys, srv, raw)
			tt.check(t, p.terminated(t))
			require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
			assert.Equal(t, int32(1), p.nterm.Load(), "Terminate runs exactly once")
		})
	}
}

// replacer stops from Init and replaces the reason in Terminate.
type replacer struct{ base }

func (h *replacer) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	return behaviours.Stop(errBoom)
}

func (h *replacer) Terminate(c behaviours.Conn, reason error) error {
	h.base.Terminate(c, reason)
	return fmt.Errorf("replaced: %w", errBye)
}

func TestTerminateReplacesReason(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	p := newProbe()
	_, err := testkit.TryDial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &replacer{} }, p)
	require.ErrorIs(t, err, errBye, "the start fails with Terminate's reason")
	assert.NotErrorIs(t, err, errBoom)
	assert.ErrorIs(t, p.terminated(t), errBoom, "Terminate saw the original reason")
}

// idler uses the idle timeout: Init arms it, a cast "clear" clears it, a
// cast "zero" queues three casts to itself and asks for Timeout(0).
type idler struct {
	base
	d time.Duration
}

func (h *idler) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	h.p.emit("init", nil)
	if h.d == 0 {
		return behaviours.Continue()
	}
	return behaviours.Timeout(h.d)
}

func (h *idler) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.p.emit("packet", string(p))
	return behaviours.Continue()
}

func (h *idler) HandleCast(c behaviours.Conn, m any) behaviours.Result {
	switch m {
	case "clear":
		h.p.emit("cleared", nil)
		return behaviours.Timeout(behaviours.Never)
	case "zero":
		for _, s := range []string{"a", "b", "c"} {
			c.Context().Send(c.Self(), &actors.Cast{Message: s})
		}
		return behaviours.Timeout(0)
	}
	h.p.emit("cast", m)
	return behaviours.Continue()
}

func (h *idler) Timeout(behaviours.Conn) behaviours.Result {
	h.p.emit("timeout", nil)
	return behaviours.Continue()
}

func TestTimeoutRepeatsAndIsRearmed(t *testing.T) {
	const d = 100 * time.Millisecond
	const slack = 10 * time.Millisecond
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &idler{d: d} }, p)
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())

	init := p.expect(t, "init")
	t1 := p.expect(t, "timeout")
	t2 := p.expect(t, "timeout")
	assert.GreaterOrEqual(t, t1.at.Sub(init.at), d-slack)
	assert.GreaterOrEqual(t, t2.at.Sub(t1.at), d-slack, "fires again every d while idle")
	assert.Less(t, t2.at.Sub(t1.at), 20*d)

	// Packets every d/4: each one re-arms the timer, so a timeout comes
	// only d after the last one.
	tick := time.NewTicker(d / 4)
	defer tick.Stop()
	for i := range 6 {
		<-tick.C
		_, err := raw.Write([]byte{'0' + byte(i)})
		require.NoError(t, err)
	}
	tick.Stop()
	var evs []event
	for packets := 0; packets < 6; {
		ev := p.next(t)
		evs = append(evs, ev)
		if ev.kind == "packet" {
			packets++
		}
	}
	evs = append(evs, p.expect(t, "timeout"))
	prev := t2
	for _, ev := range evs {
		if ev.kind == "timeout" {
			assert.GreaterOrEqual(t, ev.at.Sub(prev.at), d-slack, "a timeout came less than d after %s", prev.kind)
		}
		prev = ev
	}
}

func TestTimeoutNeverClears(t *testing.T) {
	const d = 50 * time.Millisecond
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	p := newProbe()
	pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &idler{d: d} }, p)

	p.expect(t, "init")
	p.expect(t, "timeout")
	client.Cast(sys.Root, pid, "clear")
	for ev := p.next(t); ev.kind != "cleared"; ev = p.next(t) {
		require.Equal(t, "timeout", ev.kind)
	}
	p.none(t, 6*d)
}

func TestTimeoutZeroFiresOnceWhenMailboxEmpty(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	p := newProbe()
	pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &idler{} }, p)
	p.expect(t, "init")

	client.Cast(sys.Root, pid, "zero")
	// The three casts queued with Timeout(0) run first: it fires only
	// once the mailbox is empty, and only once.
	assert.Equal(t, "a", p.expect(t, "cast").val)
	assert.Equal(t, "b", p.expect(t, "cast").val)
	assert.Equal(t, "c", p.expect(t, "cast").val)
	p.expect(t, "timeout")
	p.none(t, 200*time.Millisecond)

	client.Cast(sys.Root, pid, "zero") // asking again repeats it
	for range 3 {
		p.expect(t, "cast")
	}
	p.expect(t, "timeout")
}

// badResult returns a Result its callback may not return.
type badResult struct{ base }

func (h *badResult) HandleCast(behaviours.Conn, any) behaviours.Result {
	return behaviours.Reply("not in a call")
}

func (h *badResult) HandleEvent(behaviours.Conn, any) behaviours.Result {
	return behaviours.Decline()
}

func (h *badResult) HandleInfo(behaviours.Conn, any) behaviours.Result {
	return behaviours.Recv(0, 0) // active mode
}

func TestInvalidResultEndsConnection(t *testing.T) {
	tests := []struct {
		name     string
		send     func(sys *actor.ActorSystem, pid *actor.PID)
		callback string
	}{
		{"Reply outside HandleCall", func(sys *actor.ActorSystem, pid *actor.PID) { client.Cast(sys.Root, pid, 1) }, "HandleCast"},
		{"Decline outside Init", func(sys *actor.ActorSystem, pid *actor.PID) { client.Event(sys.Root, pid, 1) }, "HandleEvent"},
		{"Recv in active mode", func(sys *actor.ActorSystem, pid *actor.PID) { client.Info(sys.Root, pid, 1) }, "HandleInfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			sp := newProbe()
			srv := testkit.StartServer(t, sys, "", newEcho, sp)
			p := newProbe()
			pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &badResult{} }, p)
			p.expect(t, "init")

			tt.send(sys, pid)
			reason := p.terminated(t)
			require.ErrorIs(t, reason, actors.ErrInvalidResult)
			assert.NotErrorIs(t, reason, actors.ErrCallbackPanic)
			var ce *actors.CallbackError
			require.ErrorAs(t, reason, &ce)
			assert.Equal(t, tt.callback, ce.Callback)
			assert.True(t, strings.Contains(reason.Error(), tt.callback), reason.Error())

			sp.expect(t, "init")
			assert.ErrorIs(t, sp.terminated(t), syscall.ECONNRESET, "the peer sees the socket reset")
			_, err := client.Call(testkit.Ctx(t), sys.Root, pid, "x")
			assert.ErrorIs(t, err, actors.ErrClosed)
		})
	}
}

// Terminate runs once after a panicking Init, as after any other
// callback's panic: on a server (the socket then closes) and on a client
// (whose start fails with the panic; see also TestPanicInInitFailsDial).
func TestTerminateRunsAfterInitPanic(t *testing.T) {
	check := func(t *testing.T, reason error) {
		t.Helper()
		require.ErrorIs(t, reason, actors.ErrCallbackPanic)
		var ce *actors.CallbackError
		require.ErrorAs(t, reason, &ce)
		assert.Equal(t, "Init", ce.Callback)
	}
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &initPanicker{} }, p)
	raw, err := net.Dial("tcp", srv.Addr().String())
	if err == nil { // the reset may come before connect returns
		t.Cleanup(func() { raw.Close() })
		requireReset(t, raw, "")
	} else {
		require.ErrorIs(t, err, syscall.ECONNRESET)
	}
	check(t, p.terminated(t))

	echo := testkit.StartServer(t, sys, "", newEcho, newProbe())
	_, err = testkit.TryDial(t, sys, echo.Addr().String(), func() behaviours.Handler { return &initPanicker{} }, p)
	check(t, err)
	check(t, p.terminated(t)) // the client's own Terminate
	assert.Equal(t, int32(2), p.nterm.Load(), "Terminate ran once per connection")
}
