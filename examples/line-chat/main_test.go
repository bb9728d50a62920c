package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 10 * time.Second

// lockedBuffer is a bytes.Buffer safe for the logger's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
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
	conn, err := net.DialTimeout("tcp", addr, wait)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(wait)))
	c := &chatClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	welcome := c.next()
	rest, ok := strings.CutPrefix(welcome, "welcome ")
	require.True(t, ok, "greeting %q", welcome)
	c.name, c.welcome, _ = strings.Cut(rest, " ")
	return c
}

func (c *chatClient) say(line string) {
	c.t.Helper()
	_, err := c.conn.Write([]byte(line + "\n"))
	require.NoError(c.t, err)
}

func (c *chatClient) next() string {
	c.t.Helper()
	line, err := c.r.ReadString('\n')
	require.NoError(c.t, err)
	return strings.TrimSuffix(line, "\n")
}

func TestChat(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-addr", "127.0.0.1:0"}, pw, &stderr)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "stderr: %s", stderr.String())
	addr, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "listening ")
	require.True(t, ok, "first line %q", line)
	go io.Copy(io.Discard, pr)

	// Three clients; each sees the later ones join.
	a := connect(t, addr)
	defer a.conn.Close()
	b := connect(t, addr)
	defer b.conn.Close()
	assert.Equal(t, "* "+b.name+" joined", a.next())
	c := connect(t, addr)
	defer c.conn.Close()
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
	d := connect(t, addr)
	defer d.conn.Close()
	assert.Equal(t, "(3 here)", d.welcome)
	assert.Equal(t, "* "+d.name+" joined", a.next())
	assert.Equal(t, "* "+d.name+" joined", b.next())
	d.say("3 here?")
	assert.Equal(t, d.name+": 3 here?", a.next())
	assert.Equal(t, d.name+": 3 here?", b.next())

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
	for _, cl := range []*chatClient{a, b, d} {
		_, err := io.ReadAll(cl.r)
		assert.NoError(t, err, "%s: the stopped server closed the connection", cl.name)
	}
	assert.NotContains(t, stderr.String(), "level=ERROR")
}
