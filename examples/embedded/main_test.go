package main

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/test/testkit"
)

// The dead-letter throttle of protoactor's actor system (one second by
// default) may still be counting down when the tests end: a reply whose
// caller has gone is a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// Two clients' lines are numbered by the application's hub actor in one
// sequence; stopping the application closes both.
func TestEmbeddedServer(t *testing.T) {
	ex := testkit.StartExample(t, run, "-addr", "127.0.0.1:0")
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", ex.Addr, 5*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		return c, bufio.NewReader(c)
	}
	a, ar := dial()
	b, br := dial()
	say := func(c net.Conn, r *bufio.Reader, text, want string) {
		t.Helper()
		testkit.Write(t, c, text+"\n")
		got, err := r.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, want+"\n", got)
	}
	say(a, ar, "hello", "#1 hello")
	say(b, br, "hi", "#2 hi")
	say(a, ar, "again", "#3 again")

	ex.Stop(t)
	for _, r := range []*bufio.Reader{ar, br} {
		_, err := r.ReadByte()
		assert.ErrorIs(t, err, io.EOF, "the application's stop closed the connection")
	}
}
