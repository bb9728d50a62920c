package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"

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

// chatClient is one client of the chat.
type chatClient struct {
	t       *testing.T
	conn    net.Conn
	r       *bufio.Reader
	name    string
	welcome string // the rest of the greeting: "(N here)"
}

func connect(t *testing.T, addr string) *chatClient {
	t.Helper()
	conn := testkit.DialRaw(t, "tcp", addr)
	c := &chatClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	welcome := c.next()
	rest, ok := strings.CutPrefix(welcome, "welcome ")
	require.True(t, ok, "greeting %q", welcome)
	c.name, c.welcome, _ = strings.Cut(rest, " ")
	return c
}

func (c *chatClient) say(line string) {
	c.t.Helper()
	testkit.Write(c.t, c.conn, line+"\n")
}

func (c *chatClient) next() string {
	c.t.Helper()
	return testkit.ReadLine(c.t, c.r)
}

func TestChat(t *testing.T) {
	ex := testkit.StartExample(t, run, "-addr", "127.0.0.1:0")

	// Three clients; each sees the later ones join.
	a := connect(t, ex.Addr)
	b := connect(t, ex.Addr)
	assert.Equal(t, "* "+b.name+" joined", a.next())
	c := connect(t, ex.Addr)
	assert.Equal(t, "* "+c.name+" joined", a.next())
	assert.Equal(t, "* "+c.name+" joined", b.next())
	assert.Len(t, map[string]bool{a.name: true, b.name: true, c.name: true}, 3, "distinct names")

	// A line from a reaches b and c, not a: the next line a reads is b's
	// answer, which b could send only after a's line reached it.
	a.say("hello from a")
	assert.Equal(t, a.name+": hello from a", b.next())
	assert.Equal(t, a.name+": hello from a", c.next())
	b.say("hi a")
	assert.Equal(t, b.name+": hi a", a.next(), "a does not get its own line back")
	assert.Equal(t, b.name+": hi a", c.next())
	c.say("crlf works too\r")
	assert.Equal(t, c.name+": crlf works too", a.next())
	assert.Equal(t, c.name+": crlf works too", b.next())

	// c leaves: the room drops it, and the others are told.
	require.NoError(t, c.conn.Close())
	assert.Equal(t, "* "+c.name+" left (2 here)", a.next())
	assert.Equal(t, "* "+c.name+" left (2 here)", b.next())
	b.say("just us")
	assert.Equal(t, b.name+": just us", a.next())

	// A newcomer is counted without c.
	d := connect(t, ex.Addr)
	assert.Equal(t, "(3 here)", d.welcome)
	assert.Equal(t, "* "+d.name+" joined", a.next())
	assert.Equal(t, "* "+d.name+" joined", b.next())
	d.say("3 here?")
	assert.Equal(t, d.name+": 3 here?", a.next())
	assert.Equal(t, d.name+": 3 here?", b.next())

	ex.Stop(t)
	for _, cl := range []*chatClient{a, b, d} {
		_, err := io.ReadAll(cl.r)
		assert.NoError(t, err, "%s: the stopped server closed the connection", cl.name)
	}
	assert.NotContains(t, ex.Stderr.String(), "level=ERROR")
}
