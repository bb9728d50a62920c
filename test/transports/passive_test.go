package transports_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// scripted is a server handler the test steers through calls: a call
// whose request is a behaviours.Result returns that Result (with a reply
// of the mode after it), so the test decides when to Recv or switch
// modes. Packets go to a channel; a packet "passive" switches to passive
// mode itself.
type scripted struct {
	behaviours.Base
	w        *watch
	init     behaviours.Result
	received int
}

// watch is what a scripted handler reports to.
type watch struct {
	pids      chan *actor.PID
	packets   chan string
	srtimeout chan time.Time
}

func newWatch() *watch {
	return &watch{pids: make(chan *actor.PID, 4), packets: make(chan string, 64), srtimeout: make(chan time.Time, 4)}
}

// modeState is a scripted handler's answer to a call.
type modeState struct {
	Passive  bool
	Received int
}

func (h *scripted) Init(c behaviours.Conn, _ any) behaviours.Result {
	h.w.pids <- c.Self()
	return h.init
}

func (h *scripted) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	h.received++
	h.w.packets <- string(p)
	if string(p) == "passive" {
		return behaviours.Continue().Passive()
	}
	return behaviours.Continue()
}

func (h *scripted) HandleCall(c behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	r, ok := req.(behaviours.Result)
	if !ok {
		return behaviours.Reply(modeState{c.Passive(), h.received})
	}
	passive := c.Passive()
	if active, _, changed := r.ModeChange(); changed {
		passive = !active
	}
	return r.Reply(modeState{passive, h.received})
}

func (h *scripted) SocketReadTimeout(behaviours.Conn) behaviours.Result {
	h.w.srtimeout <- time.Now()
	return behaviours.Continue()
}

// state asks the handler for its mode and count.
func state(t *testing.T, sys *actor.ActorSystem, pid *actor.PID) modeState {
	t.Helper()
	v, err := client.Call(testkit.Ctx(t), sys.Root, pid, "state")
	require.NoError(t, err)
	return v.(modeState)
}

// do makes the handler return r, and returns its state after.
func do(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, r behaviours.Result) modeState {
	t.Helper()
	v, err := client.Call(testkit.Ctx(t), sys.Root, pid, r)
	require.NoError(t, err)
	return v.(modeState)
}

// scriptedServer starts a server of scripted handlers and connects a raw
// peer to it; it returns the peer and the server-side connection's PID.
func scriptedServer(t *testing.T, w *watch, init behaviours.Result, sock ...transport.Option) (*actor.ActorSystem, net.Conn, *actor.PID) {
	t.Helper()
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &scripted{w: w, init: init} }, nil,
		actors.WithSocket(sock...))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	return sys, c, testkit.Recv(t, w.pids)
}

// quiet asserts nothing reaches the channel for a while: a negative
// check, so it can only watch for a bounded time.
func quiet[T any](t *testing.T, ch <-chan T, d time.Duration) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %v", v)
	case <-time.After(d):
	}
}

func TestPassiveRawRecv(t *testing.T) {
	w := newWatch()
	sys, c, pid := scriptedServer(t, w, behaviours.Continue(), transport.WithPassive())
	assert.True(t, state(t, sys, pid).Passive)

	// Nothing is delivered until Recv.
	testkit.Write(t, c, "0123456789")
	quiet(t, w.packets, 100*time.Millisecond)
	assert.Zero(t, state(t, sys, pid).Received)

	// Recv(n) delivers exactly n bytes, from what was buffered.
	do(t, sys, pid, behaviours.Recv(4, behaviours.Never))
	assert.Equal(t, "0123", testkit.Recv(t, w.packets))
	do(t, sys, pid, behaviours.Recv(4, behaviours.Never))
	assert.Equal(t, "4567", testkit.Recv(t, w.packets))
	assert.Equal(t, modeState{Passive: true, Received: 2}, state(t, sys, pid))

	// Recv(0) delivers whatever is available.
	do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
	assert.Equal(t, "89", testkit.Recv(t, w.packets))
	testkit.Write(t, c, "xyz")
	do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
	assert.Equal(t, "xyz", testkit.Recv(t, w.packets))

	// Recv(n) waits for all n bytes, across reads.
	do(t, sys, pid, behaviours.Recv(5, behaviours.Never))
	testkit.Write(t, c, "ab")
	quiet(t, w.packets, 50*time.Millisecond)
	testkit.Write(t, c, "cdefg")
	assert.Equal(t, "abcde", testkit.Recv(t, w.packets))
	assert.Equal(t, 5, state(t, sys, pid).Received, "the rest waits for the next Recv")

	// More than one read buffer's worth.
	big := bytes.Repeat([]byte("0123456789abcdef"), 40000/16)
	do(t, sys, pid, behaviours.Recv(2+len(big), behaviours.Never))
	testkit.Write(t, c, string(big))
	assert.Equal(t, "fg"+string(big), testkit.Recv(t, w.packets))
	assert.Equal(t, modeState{Passive: true, Received: 6}, state(t, sys, pid))
}

func TestPassiveLineRecvZeroIsOneFrame(t *testing.T) {
	w := newWatch()
	sys, c, pid := scriptedServer(t, w, behaviours.Continue(), transport.WithPassive(), transport.WithFramer(transport.Line()))
	testkit.Write(t, c, "one\ntwo\r\nthree\n")
	for i, want := range []string{"one", "two", "three"} {
		do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
		assert.Equal(t, want, testkit.Recv(t, w.packets))
		assert.Equal(t, modeState{Passive: true, Received: i + 1}, state(t, sys, pid),
			"Recv(0) delivered exactly one frame")
		testkit.RequireEmpty(t, w.packets)
	}
}

func TestPassiveRecvTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	w := newWatch()
	sys, c, pid := scriptedServer(t, w, behaviours.Continue(), transport.WithPassive())

	start := time.Now()
	do(t, sys, pid, behaviours.Recv(0, timeout))
	fired := testkit.Recv(t, w.srtimeout)
	assert.GreaterOrEqual(t, fired.Sub(start), timeout, "srtimeout ran early")
	testkit.RequireEmpty(t, w.packets)

	// The connection carries on: a read without a timeout waits as long
	// as it takes, and an earlier deadline does not linger.
	do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
	quiet(t, w.srtimeout, 2*timeout)
	testkit.Write(t, c, "late")
	assert.Equal(t, "late", testkit.Recv(t, w.packets))

	// A read that completes in time does not time out later.
	do(t, sys, pid, behaviours.Recv(0, timeout))
	testkit.Write(t, c, "quick")
	assert.Equal(t, "quick", testkit.Recv(t, w.packets))
	quiet(t, w.srtimeout, 2*timeout)

	// Recv(n) that gets only part of n in time times out too, and the
	// part stays for the next read.
	do(t, sys, pid, behaviours.Recv(6, timeout))
	testkit.Write(t, c, "par")
	testkit.Recv(t, w.srtimeout)
	do(t, sys, pid, behaviours.Recv(6, behaviours.Never))
	testkit.Write(t, c, "tial")
	assert.Equal(t, "partia", testkit.Recv(t, w.packets))
}

func TestSwitchModes(t *testing.T) {
	w := newWatch()
	sys, c, pid := scriptedServer(t, w, behaviours.Continue(), transport.WithFramer(transport.Line()))
	assert.False(t, state(t, sys, pid).Passive, "active by default")

	// Active: every frame as it comes.
	testkit.Write(t, c, "a\n")
	assert.Equal(t, "a", testkit.Recv(t, w.packets))

	// HandlePacket switches to passive: the frames behind it wait.
	testkit.Write(t, c, "passive\nb\nc\n")
	assert.Equal(t, "passive", testkit.Recv(t, w.packets))
	assert.Equal(t, modeState{Passive: true, Received: 2}, state(t, sys, pid))
	quiet(t, w.packets, 50*time.Millisecond)
	assert.Equal(t, 2, state(t, sys, pid).Received)

	// Back to active from a call: what waited is delivered.
	assert.False(t, do(t, sys, pid, behaviours.Continue().Active(0)).Passive)
	assert.Equal(t, "b", testkit.Recv(t, w.packets))
	assert.Equal(t, "c", testkit.Recv(t, w.packets))
	testkit.Write(t, c, "d\n")
	assert.Equal(t, "d", testkit.Recv(t, w.packets))

	// Active → passive from a call.
	assert.True(t, do(t, sys, pid, behaviours.Continue().Passive()).Passive)
	testkit.Write(t, c, "e\n")
	quiet(t, w.packets, 50*time.Millisecond)
	do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
	assert.Equal(t, "e", testkit.Recv(t, w.packets))

	// Active(n): n frames, then passive again.
	testkit.Write(t, c, "f\ng\nh\ni\n")
	assert.False(t, do(t, sys, pid, behaviours.Continue().Active(2)).Passive)
	assert.Equal(t, "f", testkit.Recv(t, w.packets))
	assert.Equal(t, "g", testkit.Recv(t, w.packets))
	assert.Equal(t, modeState{Passive: true, Received: 8}, state(t, sys, pid), "passive after two frames")
	testkit.RequireEmpty(t, w.packets)
	do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
	assert.Equal(t, "h", testkit.Recv(t, w.packets))
	assert.Equal(t, 9, state(t, sys, pid).Received)
}

func TestActiveNFromInit(t *testing.T) {
	w := newWatch()
	sys, c, pid := scriptedServer(t, w, behaviours.Continue().Active(3),
		transport.WithPassive(), transport.WithFramer(transport.Length(2)))
	wire, err := transport.Length(2).Encode(nil, []byte("1"))
	require.NoError(t, err)
	for _, p := range []string{"2", "3", "4", "5"} {
		wire, err = transport.Length(2).Encode(wire, []byte(p))
		require.NoError(t, err)
	}
	for _, b := range wire { // a byte at a time
		testkit.Write(t, c, string([]byte{b}))
	}
	for _, want := range []string{"1", "2", "3"} {
		assert.Equal(t, want, testkit.Recv(t, w.packets))
	}
	assert.Equal(t, modeState{Passive: true, Received: 3}, state(t, sys, pid))
	quiet(t, w.packets, 50*time.Millisecond)
	do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
	assert.Equal(t, "4", testkit.Recv(t, w.packets))
	do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
	assert.Equal(t, "5", testkit.Recv(t, w.packets))

	// The peer closing is read only when asked for, too: then the
	// connection ends and closes its side.
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	assert.Equal(t, 5, state(t, sys, pid).Received)
	do(t, sys, pid, behaviours.Recv(0, behaviours.Never))
	rest, err := io.ReadAll(c)
	require.NoError(t, err, "the server closed the connection")
	assert.Empty(t, rest)
}
