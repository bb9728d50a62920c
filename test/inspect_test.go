package test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// versioned answers packets and calls with its version; CodeChange moves
// it to version 2, keeping its packet count, or refuses.
type versioned struct {
	base
	version string
	n       int
}

func (h *versioned) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	h.n++
	return behaviours.Send([]byte(h.version + ":" + string(p)))
}

func (h *versioned) HandleCall(_ behaviours.Conn, _ any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply(h.version)
}

var errRefused = errors.New("refused")

func (h *versioned) CodeChange(_ behaviours.Conn, old string, extra any) (behaviours.Handler, error) {
	if extra == "refuse" {
		return nil, errRefused
	}
	return &versioned{base: h.base, version: "v2(from " + old + "," + extra.(string) + ")", n: h.n}, nil
}

func (h *versioned) State() any { return h.n }

func newVersioned() behaviours.Handler { return &versioned{version: "v1"} }

func TestClientCodeChange(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	pid := testkit.Dial(t, sys, srv.Addr().String(), newVersioned, newProbe())

	v, err := client.Call(testkit.Ctx(t), sys.Root, pid, "version")
	require.NoError(t, err)
	assert.Equal(t, "v1", v)

	require.ErrorIs(t, client.CodeChange(testkit.Ctx(t), sys.Root, pid, "1", "refuse"), errRefused)
	v, err = client.Call(testkit.Ctx(t), sys.Root, pid, "version")
	require.NoError(t, err)
	assert.Equal(t, "v1", v, "a refused code change keeps the handler")

	require.NoError(t, client.CodeChange(testkit.Ctx(t), sys.Root, pid, "1", "x"))
	v, err = client.Call(testkit.Ctx(t), sys.Root, pid, "version")
	require.NoError(t, err)
	assert.Equal(t, "v2(from 1,x)", v)
}

func TestServerCodeChangeAndState(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newVersioned, p)
	a, b := testkit.DialRaw(t, "tcp", srv.Addr().String()), testkit.DialRaw(t, "tcp", srv.Addr().String())
	write := func(raw interface{ Write([]byte) (int, error) }, s string) {
		_, err := raw.Write([]byte(s))
		require.NoError(t, err)
	}
	write(a, "a")
	assert.Equal(t, "v1:a", string(testkit.ReadN(t, a, 4)))
	write(b, "b")
	assert.Equal(t, "v1:b", string(testkit.ReadN(t, b, 4)))
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 2 }, testkit.Wait, time.Millisecond)

	require.NoError(t, srv.CodeChange(testkit.Ctx(t), "1", "s"))
	write(a, "a")
	assert.Equal(t, "v2(from 1,s):a", string(testkit.ReadN(t, a, len("v2(from 1,s):a"))))
	write(b, "b")
	assert.Equal(t, "v2(from 1,s):b", string(testkit.ReadN(t, b, len("v2(from 1,s):b"))))

	// The new handler kept the state, which StateReader reports.
	for _, c := range testkit.Conns(t, srv) {
		st, err := client.State(testkit.Ctx(t), sys.Root, c.PID)
		require.NoError(t, err)
		assert.Equal(t, 2, st)
	}
	assert.ErrorIs(t, srv.CodeChange(testkit.Ctx(t), "2", "refuse"), errRefused)
}

func TestStateWithoutStateReader(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, raw, "x")
	st, err := client.State(testkit.Ctx(t), sys.Root, connOf(t, srv).PID)
	require.NoError(t, err)
	assert.IsType(t, &echo{}, st, "a handler without State() reports itself")
}

// traceHas reports whether an event of kind matches.
func traceHas(evs []actors.TraceEvent, kind actors.TraceKind, match func(actors.TraceEvent) bool) bool {
	for _, ev := range evs {
		if ev.Kind == kind && match(ev) {
			return true
		}
	}
	return false
}

func TestTraceFromServerOption(t *testing.T) {
	sys := testkit.NewSystem(t)
	log := actors.NewTraceLog(64)
	srv := testkit.StartServer(t, sys, "", newCaller, newProbe(), actors.WithTracer(log))
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	_, err := raw.Write([]byte("ping"))
	require.NoError(t, err)
	// caller answers packets with a deferred reply to no one: nothing is
	// written back, so wait for the trace instead.
	require.Eventually(t, func() bool {
		return traceHas(log.Events(), actors.TracePacketIn, func(ev actors.TraceEvent) bool { return string(ev.Data) == "ping" })
	}, testkit.Wait, time.Millisecond)

	pid := connOf(t, srv).PID
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := client.Call(testkit.Ctx(t), sys.Root, pid, []byte("pkt"))
		done <- result{v, err}
	}()
	// Play the echo server: the reply comes once "pkt" comes back.
	_, err = raw.Write(testkit.ReadN(t, raw, 3))
	require.NoError(t, err)
	var r result
	select {
	case r = <-done:
	case <-time.After(testkit.Wait):
		t.Fatal("no reply")
	}
	require.NoError(t, r.err)
	assert.Equal(t, "later:pkt", r.v)

	evs := log.Events()
	conn := connOf(t, srv).ID
	for _, ev := range evs {
		assert.Equal(t, conn, ev.Conn)
		assert.False(t, ev.Time.IsZero())
	}
	anyEvent := func(actors.TraceEvent) bool { return true }
	assert.True(t, traceHas(evs, actors.TraceMessageIn, func(ev actors.TraceEvent) bool {
		c, ok := ev.Message.(*actors.Call)
		return ok && string(c.Request.([]byte)) == "pkt"
	}), "message-in of the call")
	assert.True(t, traceHas(evs, actors.TracePacketOut, func(ev actors.TraceEvent) bool { return string(ev.Data) == "pkt" }), "packet-out")
	assert.True(t, traceHas(evs, actors.TraceReplyOut, func(ev actors.TraceEvent) bool { return ev.Message == "later:pkt" }), "reply-out")
	assert.True(t, traceHas(evs, actors.TraceResult, func(ev actors.TraceEvent) bool {
		return ev.Callback == "HandleCall" && ev.Message == "send(1)"
	}), "result of HandleCall")
	assert.True(t, traceHas(evs, actors.TraceResult, func(ev actors.TraceEvent) bool { return ev.Callback == "HandlePacket" }), "result of HandlePacket")
	assert.True(t, traceHas(evs, actors.TracePacketIn, anyEvent))
}

func TestTraceAtRunTime(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, raw, "before")
	pid := connOf(t, srv).PID

	evs := make(chan actors.TraceEvent, 256)
	require.NoError(t, client.Trace(testkit.Ctx(t), sys.Root, pid, actors.TracerFunc(func(ev actors.TraceEvent) { evs <- ev })))
	roundTrip(t, raw, "traced")
	require.NoError(t, client.Trace(testkit.Ctx(t), sys.Root, pid, nil))
	roundTrip(t, raw, "after")
	close(evs)

	var in, out []string
	for ev := range evs {
		switch ev.Kind {
		case actors.TracePacketIn:
			in = append(in, string(ev.Data))
		case actors.TracePacketOut:
			out = append(out, string(ev.Data))
		}
	}
	assert.Equal(t, []string{"traced"}, in)
	assert.Equal(t, []string{"traced"}, out)
}

// A connection's statistics count its traffic exactly and report its
// state, passivated included, without waking it.
func TestConnStats(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(),
		actors.WithSocket(transport.WithFramer(transport.Length(2))), actors.WithIdleHibernate(50*time.Millisecond))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	for range 3 {
		testkit.Write(t, c, "\x00\x05hello")
		require.Equal(t, "\x00\x05hello", string(testkit.ReadN(t, c, 7)))
	}
	pid := connOf(t, srv).PID
	require.Eventually(t, func() bool {
		s, ok := actors.ConnStatsOf(sys, pid)
		return ok && s.State == "passivated"
	}, testkit.Wait, time.Millisecond, "idle for 50 ms: hibernated, then passivated")
	s, ok := actors.ConnStatsOf(sys, pid)
	require.True(t, ok)
	assert.Equal(t, uint64(21), s.BytesIn)
	assert.Equal(t, uint64(21), s.BytesOut)
	assert.Equal(t, uint64(3), s.FramesIn)
	assert.Equal(t, uint64(3), s.FramesOut)
	assert.Equal(t, srv.Name(), s.Owner)
	assert.Equal(t, "tcp", s.Transport)
	assert.Equal(t, c.LocalAddr().String(), s.Peer.String())
	assert.False(t, s.Passive)
	assert.False(t, s.LastFrame.Before(s.Started))
	assert.Equal(t, 1, srv.Info().Conns.Passivated, "reading the statistics woke nothing")
	all := srv.ConnStats()
	require.Len(t, all, 1)
	assert.Equal(t, s.BytesIn, all[0].BytesIn)
}
