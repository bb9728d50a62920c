package test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

var errKaboom = errors.New("kaboom")

// crasher echoes, and panics on "panic".
type crasher struct{ base }

func (h *crasher) HandlePacket(_ behaviours.Conn, p []byte) behaviours.Result {
	if string(p) == "panic" {
		panic(errKaboom)
	}
	return behaviours.Send(bytes.Clone(p))
}

func TestPanicLeavesOtherConnectionsAnswering(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &crasher{} }, p)
	a, b, c := testkit.DialRaw(t, "tcp", srv.Addr().String()), testkit.DialRaw(t, "tcp", srv.Addr().String()), testkit.DialRaw(t, "tcp", srv.Addr().String())
	for _, r := range []net.Conn{a, b, c} {
		roundTrip(t, r, "up")
	}

	testkit.Write(t, b, "panic")
	requireReset(t, b, "")
	reason := p.terminated(t)
	require.ErrorIs(t, reason, actors.ErrCallbackPanic)
	require.ErrorIs(t, reason, errKaboom, "the panic value is reachable")
	var ce *actors.CallbackError
	require.ErrorAs(t, reason, &ce)
	assert.Equal(t, "HandlePacket", ce.Callback)

	roundTrip(t, a, "still here")
	roundTrip(t, c, "me too")
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "and new ones")
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 3 }, testkit.Wait, time.Millisecond)
	requireMode(t, srv, server.ModeAccepting)
}

// initPanicker panics in Init.
type initPanicker struct{ base }

func (h *initPanicker) Init(_ behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	panic("init failed")
}

func TestPanicInInitFailsDial(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	p := newProbe()
	_, err := testkit.TryDial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &initPanicker{} }, p)
	require.ErrorIs(t, err, actors.ErrCallbackPanic)
	var ce *actors.CallbackError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Init", ce.Callback)
	require.ErrorIs(t, p.terminated(t), actors.ErrCallbackPanic, "Terminate runs after a panicking Init")
	assert.Equal(t, int32(1), p.nterm.Load())
}

// terminatePanicker stops from Init and panics in Terminate.
type terminatePanicker struct{ base }

func (h *terminatePanicker) Init(behaviours.Conn, any) behaviours.Result {
	return behaviours.Stop(errBoom)
}

func (h *terminatePanicker) Terminate(behaviours.Conn, error) error { panic("terminate failed") }

func TestPanicInTerminate(t *testing.T) {
	sys := testkit.NewSystem(t)
	sp := newProbe()
	srv := testkit.StartServer(t, sys, "", newEcho, sp)
	_, err := testkit.TryDial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &terminatePanicker{} }, nil)
	require.ErrorIs(t, err, actors.ErrCallbackPanic)
	var ce *actors.CallbackError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Terminate", ce.Callback)
	sp.expect(t, "init")
	assert.ErrorIs(t, sp.terminated(t), syscall.ECONNRESET, "the socket is reset all the same (a panic is an error end)")
}

// The EMFILE test runs in a child process (this test binary again, with
// emfileEnv set), since it lowers the process's file limit.
const emfileEnv = "ETCP_TEST_EMFILE_CHILD"

func TestAcceptorSurvivesEMFILE(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors through /proc")
	}
	if os.Getenv(emfileEnv) != "" {
		t.Skip("in the child")
	}
	ctx := testkit.Ctx(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEMFILEChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child:\n%s", out)
	require.Contains(t, string(out), "--- PASS: TestEMFILEChild", "child:\n%s", out)
}

// TestEMFILEChild exhausts the descriptors so that accept fails with
// EMFILE, then frees them: the acceptor must log, back off and accept
// the waiting connection.
func TestEMFILEChild(t *testing.T) {
	if os.Getenv(emfileEnv) == "" {
		t.Skip("run by TestAcceptorSurvivesEMFILE")
	}
	logs := newLogCapture()
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithAcceptors(1), server.WithStartAsleep(),
		actors.WithLogger(slog.New(logs)))

	// Connected but not accepted: the server is asleep.
	waiting := testkit.DialRaw(t, "tcp", srv.Addr().String())
	testkit.Write(t, waiting, "hello")

	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old))
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	lowered := old
	lowered.Cur = uint64(len(entries) + 16)
	require.Less(t, lowered.Cur, old.Cur)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered))
	defer func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)) }()

	var hog []*os.File
	release := func() {
		for _, f := range hog {
			f.Close()
		}
		hog = nil
	}
	defer release()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			require.ErrorIs(t, err, syscall.EMFILE)
			break
		}
		hog = append(hog, f)
		require.Less(t, len(hog), 1024, "the lowered limit did not bite")
	}

	require.NoError(t, srv.Wake(context.Background()))
	sawEMFILE := false
	timeout := time.After(testkit.Wait)
	for !sawEMFILE {
		select {
		case r := <-logs.ch:
			if v, ok := attr(r, "err"); ok && r.Level == slog.LevelWarn {
				err, _ := v.Any().(error)
				sawEMFILE = errors.Is(err, syscall.EMFILE)
			}
		case <-timeout:
			t.Fatal("the acceptor never reported EMFILE")
		}
	}
	_, uniform := srv.Mode()
	assert.True(t, uniform)
	assert.Empty(t, testkit.Conns(t, srv))

	release()
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old))
	assert.Equal(t, "hello", string(testkit.ReadN(t, waiting, 5)), "the acceptor recovered")
	roundTrip(t, testkit.DialRaw(t, "tcp", srv.Addr().String()), "and keeps accepting")
	requireMode(t, srv, server.ModeAccepting)
}
