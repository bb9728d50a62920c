package test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// quiet is how long a test waits to be sure nothing is delivered.
const quiet = 150 * time.Millisecond

// recvArgs asks a passive handler for its next read.
type recvArgs struct {
	n       int
	timeout time.Duration
}

// passive reads only when told: Init returns start, a cast recvArgs asks
// for one read, and every callback reports what it sees.
type passive struct {
	base
	start behaviours.Result
}

func (h *passive) Init(c behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	h.p.emit("init", c.Passive())
	return h.start
}

func (h *passive) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	h.p.emit("packet", string(p))
	h.p.emit("passive", c.Passive())
	return behaviours.Continue()
}

func (h *passive) HandleCast(_ behaviours.Conn, m any) behaviours.Result {
	a := m.(recvArgs)
	return behaviours.Recv(a.n, a.timeout)
}

func (h *passive) SocketReadTimeout(behaviours.Conn) behaviours.Result {
	h.p.emit("srtimeout", nil)
	return behaviours.Continue()
}

func passiveServer(t *testing.T, start behaviours.Result) (*actor.ActorSystem, *probe, *server.Server) {
	t.Helper()
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &passive{start: start} }, p,
		actors.WithSocket(transport.WithPassive()))
	return sys, p, srv
}

func TestPassiveDeliversOnlyOnRecv(t *testing.T) {
	sys, p, srv := passiveServer(t, behaviours.Continue())
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	assert.Equal(t, true, p.expect(t, "init").val, "Conn.Passive in passive mode")
	pid := connOf(t, srv).PID

	testkit.Write(t, raw, "abc")
	p.none(t, quiet) // nothing is read until the handler asks
	client.Cast(sys.Root, pid, recvArgs{0, 0})
	assert.Equal(t, "abc", p.expect(t, "packet").val)
	p.expect(t, "passive")

	// Recv(n) delivers exactly n bytes and keeps the rest for the next Recv.
	testkit.Write(t, raw, "defgh")
	client.Cast(sys.Root, pid, recvArgs{2, 0})
	assert.Equal(t, "de", p.expect(t, "packet").val)
	p.expect(t, "passive")
	p.none(t, quiet)
	client.Cast(sys.Root, pid, recvArgs{3, 0})
	assert.Equal(t, "fgh", p.expect(t, "packet").val)
}

func TestPassiveReadTimeout(t *testing.T) {
	const d = 100 * time.Millisecond
	sys, p, srv := passiveServer(t, behaviours.Recv(0, d))
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	init := p.expect(t, "init")
	ev := p.expect(t, "srtimeout")
	assert.GreaterOrEqual(t, ev.at.Sub(init.at), d-10*time.Millisecond)
	p.none(t, quiet) // it fires once per Recv

	// The connection still works: a new Recv reads.
	testkit.Write(t, raw, "late")
	client.Cast(sys.Root, connOf(t, srv).PID, recvArgs{0, 0})
	assert.Equal(t, "late", p.expect(t, "packet").val)
}

// timedOut keeps Base's SocketReadTimeout, which stops the connection.
type timedOut struct{ base }

func (h *timedOut) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	return behaviours.Recv(4, 50*time.Millisecond)
}

func TestPassiveReadTimeoutDefaultStops(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &timedOut{} }, p,
		actors.WithSocket(transport.WithPassive()))
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	testkit.Write(t, raw, "ab") // less than asked for
	assert.ErrorIs(t, p.terminated(t), behaviours.ErrReadTimeout)
	requireEOF(t, raw, "")
}

func TestActiveNThenPassive(t *testing.T) {
	sys, p, srv := passiveServer(t, behaviours.Continue().Active(2))
	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	p.expect(t, "init")

	testkit.Write(t, raw, "a")
	assert.Equal(t, "a", p.expect(t, "packet").val)
	assert.Equal(t, false, p.expect(t, "passive").val)
	testkit.Write(t, raw, "b")
	assert.Equal(t, "b", p.expect(t, "packet").val)
	assert.Equal(t, true, p.expect(t, "passive").val, "passive again after n frames")
	testkit.Write(t, raw, "c")
	p.none(t, quiet)
	client.Cast(sys.Root, connOf(t, srv).PID, recvArgs{0, 0})
	assert.Equal(t, "c", p.expect(t, "packet").val)
}

// timedRecv is active until a cast switches it to passive with a timed
// Recv; it reports the read timeout.
type timedRecv struct{ base }

func (h *timedRecv) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	return behaviours.Continue()
}

func (h *timedRecv) HandleCast(behaviours.Conn, any) behaviours.Result {
	return behaviours.Continue().Passive().Recv(0, 100*time.Millisecond)
}

func (h *timedRecv) SocketReadTimeout(behaviours.Conn) behaviours.Result {
	h.p.emit("srtimeout", nil)
	return behaviours.Continue()
}

// A timed Recv asked for while the reader is parked on the shared poller
// times out like any other (it waited on a socket deadline no read saw).
func TestTimedRecvWhileParked(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &timedRecv{} }, p)
	testkit.DialRaw(t, "tcp", srv.Addr().String())
	pid := connOf(t, srv).PID
	assert.Eventually(t, func() bool { return srv.Info().Conns.Parked == 1 }, testkit.Wait, time.Millisecond,
		"the idle reader parks")
	client.Cast(sys.Root, pid, nil)
	p.expect(t, "srtimeout")
}
