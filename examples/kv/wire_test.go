package main

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests speak to the server over raw sockets, byte for byte.

// TestInline: inline commands, as typed into nc or telnet.
func TestInline(t *testing.T) {
	cases := []struct {
		req, reply string
		kvOnly     bool
	}{
		{"PING\r\n", "+PONG\r\n", false},
		{"ping\n", "+PONG\r\n", false},
		{"PING\r\r\n", "+PONG\r\n", false},
		{"\r\n   \r\n\t\nPING\r\n", "+PONG\r\n", false}, // blank lines are ignored
		{"SET a 'x y'\r\nGET a\r\n", "+OK\r\n$3\r\nx y\r\n", false},
		{"SET b \"q\\\"uote\\\\d\"\r\nGET b\r\n", "+OK\r\n$8\r\nq\"uote\\d\r\n", false},
		{"ECHO \"a\\x41\\n\\t\\r\\b\\a\\z\"\r\n", "$8\r\naA\n\t\r\b\az\r\n", false},
		{"ECHO \"\\x4g\"\r\n", "$3\r\nx4g\r\n", false},
		{"ECHO 'it\\'s'\r\n", "$4\r\nit's\r\n", false},
		{"ECHO 'a\\b'\r\n", "$3\r\na\\b\r\n", false},
		{"ECHO a\"b c\"\r\n", "$4\r\nab c\r\n", false},
		{"ECHO \"\"\r\n", "$0\r\n\r\n", false},
		{"ECHO ''\r\n", "$0\r\n\r\n", false},
		{"ECHO\ta\r\n", "$1\r\na\r\n", false},
		{"ECHO a\vb\r\n", "$3\r\na\vb\r\n", false},
		{"ECHO  a   b\r\n", "-ERR wrong number of arguments for 'echo' command\r\n", false},
		{"ECHO a\x00b c\r\n", "$1\r\na\r\n", true}, // a NUL ends the line (Redis never finds its end)
		{"NOSUCH x\r\n", "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n", false},
		{"SET a 1\nINCR a\nGET a\n", "+OK\r\n:2\r\n$1\r\n2\r\n", false},
	}
	check := func(t *testing.T, addr string, redis bool) {
		for _, tc := range cases {
			if redis && tc.kvOnly {
				continue
			}
			c := dial(t, addr)
			got, err := exchange(c, tc.req, len(tc.reply))
			require.NoError(t, err, "%q", tc.req)
			assert.Equal(t, tc.reply, got, "%q", tc.req)
			got, err = exchange(c, "PING\r\n", len("+PONG\r\n"))
			require.NoError(t, err, "%q: the connection lives on", tc.req)
			assert.Equal(t, "+PONG\r\n", got)
			c.Close()
		}
	}
	t.Run("kv", func(t *testing.T) { check(t, startKV(t).Addr, false) })
	t.Run("redis-server", func(t *testing.T) { check(t, redis70(t), true) })
}

// TestPipelining: commands sent in one write are all answered, in order.
func TestPipelining(t *testing.T) {
	ex := startKV(t)
	c := dial(t, ex.Addr)

	// A mix of RESP and inline commands, replies and errors.
	request := req("SET", "p", "1") + "INCR p\r\n" + req("GET", "p") + req("NOSUCH") +
		req("GET") + "PING\r\n" + req("ECHO", "a\r\nb") + req("MSET", "x", "1", "y", "2") +
		req("MGET", "x", "nokey", "y") + req("DEL", "x", "y") + "*0\r\n" + "\r\n" + req("PING")
	reply := "+OK\r\n" + ":2\r\n" + "$1\r\n2\r\n" +
		"-ERR unknown command 'NOSUCH', with args beginning with: \r\n" +
		"-ERR wrong number of arguments for 'get' command\r\n" + "+PONG\r\n" + "$4\r\na\r\nb\r\n" + "+OK\r\n" +
		"*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n" + ":2\r\n" + "+PONG\r\n"
	got, err := exchange(c, request, len(reply))
	require.NoError(t, err)
	assert.Equal(t, reply, got)

	// Enough commands to take many reads, each with its own reply.
	const n = 20000
	var b, want strings.Builder
	for i := range n {
		s := strconv.Itoa(i)
		if i%3 == 0 {
			b.WriteString("ECHO " + s + "\r\n")
		} else {
			b.WriteString(req("ECHO", s))
		}
		want.WriteString("$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n")
	}
	got, err = exchange(c, b.String(), want.Len())
	require.NoError(t, err)
	require.Equal(t, want.String(), got)
}

// TestSplitCommand: a command that arrives a byte at a time is answered
// once it is complete, and only then.
func TestSplitCommand(t *testing.T) {
	ex := startKV(t)
	c := dial(t, ex.Addr)
	request := req("SET", "split", strings.Repeat("v", 100)) + "GET split\r\n"
	for i := range len(request) {
		_, err := c.Write([]byte{request[i]})
		require.NoError(t, err)
	}
	reply := "+OK\r\n$100\r\n" + strings.Repeat("v", 100) + "\r\n"
	got := make([]byte, len(reply))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, reply, string(got))
}

// TestProtocolErrors: malformed requests get Redis's protocol error, after
// the replies to the commands before them, and the connection closes;
// nothing after the error runs.
func TestProtocolErrors(t *testing.T) {
	cases := []struct {
		req, reply string
		kvOnly     bool // kv is stricter than Redis here
	}{
		{"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n", false},
		{"*+1\r\n", "-ERR Protocol error: invalid multibulk length\r\n", false},
		{"*01\r\n", "-ERR Protocol error: invalid multibulk length\r\n", false},
		{"*-0\r\n", "-ERR Protocol error: invalid multibulk length\r\n", false},
		{"*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n", false},
		{"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n", false},
		{"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n", false},
		{"*1\r\n$04\r\nPING\r\n", "-ERR Protocol error: invalid bulk length\r\n", false},
		{"*1\r\n$99999999999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n", false},
		{"PING \"a\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n", false},
		{"ECHO \"a\"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n", false},
		{"ECHO 'a'b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n", false},
		{"ECHO 'a\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n", false},
		{"SET x 1\r\nGET x\r\n*1\r\n$x\r\nSET after 1\r\n", "+OK\r\n$1\r\n1\r\n-ERR Protocol error: invalid bulk length\r\n", false},
		{"*1\r\n$4\r\nPINGxx" + req("SET", "after", "1"), "-ERR Protocol error: bulk string not followed by CRLF\r\n", true},
		{"*1\r\n$4\rX" + req("SET", "after", "1"), "-ERR Protocol error: CR not followed by LF\r\n", true},
	}
	check := func(t *testing.T, addr string, redis bool) {
		for _, tc := range cases {
			if redis && tc.kvOnly {
				continue
			}
			c := dial(t, addr)
			got, err := exchange(c, tc.req, len(tc.reply))
			require.NoError(t, err, "%q", tc.req)
			assert.Equal(t, tc.reply, got, "%q", tc.req)
			requireClosed(t, c)
			c.Close()
		}
		// Nothing after an error ran.
		c := dial(t, addr)
		got, err := exchange(c, req("EXISTS", "after"), len(":0\r\n"))
		require.NoError(t, err)
		assert.Equal(t, ":0\r\n", got)
	}
	t.Run("kv", func(t *testing.T) { check(t, startKV(t).Addr, false) })
	t.Run("redis-server", func(t *testing.T) { check(t, redis70(t), true) })
}

// TestQuit: QUIT answers OK and closes; what follows it is not run.
func TestQuit(t *testing.T) {
	ex := startKV(t)
	c := dial(t, ex.Addr)
	got, err := exchange(c, req("PING")+req("QUIT")+req("SET", "afterquit", "1"), len("+PONG\r\n+OK\r\n"))
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n+OK\r\n", got)
	requireClosed(t, c)
	c = dial(t, ex.Addr)
	got, err = exchange(c, req("EXISTS", "afterquit"), len(":0\r\n"))
	require.NoError(t, err)
	assert.Equal(t, ":0\r\n", got)
}

// TestLimits: a bulk string over -max-bulk, or a command over -max-query,
// is refused as soon as its "$N" header arrives: the reply comes without
// the body ever being sent, and the connection closes. Up to the limits,
// everything is accepted.
func TestLimits(t *testing.T) {
	t.Run("max-bulk", func(t *testing.T) {
		ex := startKV(t, "-max-bulk", "1024")
		c := dial(t, ex.Addr)
		v := strings.Repeat("v", 1024)
		got, err := exchange(c, req("SET", "big", v)+req("GET", "big"), len("+OK\r\n$1024\r\n")+1024+2)
		require.NoError(t, err)
		assert.Equal(t, "+OK\r\n$1024\r\n"+v+"\r\n", got)
		got, err = exchange(c, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1025\r\n", len("-ERR Protocol error: invalid bulk length\r\n"))
		require.NoError(t, err)
		assert.Equal(t, "-ERR Protocol error: invalid bulk length\r\n", got)
		requireClosed(t, c)
	})
	t.Run("default max-bulk", func(t *testing.T) {
		ex := startKV(t)
		c := dial(t, ex.Addr)
		got, err := exchange(c, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$"+strconv.Itoa(defaultMaxBulk+1)+"\r\n",
			len("-ERR Protocol error: invalid bulk length\r\n"))
		require.NoError(t, err)
		assert.Equal(t, "-ERR Protocol error: invalid bulk length\r\n", got)
		requireClosed(t, c)
	})
	t.Run("max-query", func(t *testing.T) {
		const maxQuery = 2 * lineMax
		ex := startKV(t, "-max-query", strconv.Itoa(maxQuery))
		c := dial(t, ex.Addr)
		// The largest command that fits: its value has 6 digits of length.
		header := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n"
		value := strings.Repeat("v", maxQuery-len(header)-len("$123456\r\n\r\n"))
		require.Len(t, req("SET", "k", value), maxQuery)
		got, err := exchange(c, req("SET", "k", value), len("+OK\r\n"))
		require.NoError(t, err)
		assert.Equal(t, "+OK\r\n", got)
		got, err = exchange(c, header+"$"+strconv.Itoa(len(value)+1)+"\r\n",
			len("-ERR Protocol error: request larger than the server's limit\r\n"))
		require.NoError(t, err)
		assert.Equal(t, "-ERR Protocol error: request larger than the server's limit\r\n", got)
		requireClosed(t, c)
	})
	t.Run("inline", func(t *testing.T) {
		ex := startKV(t)
		c := dial(t, ex.Addr)
		line := "ECHO " + strings.Repeat("x", lineMax-len("ECHO ")) + "\n"
		got, err := exchange(c, line, len("$65531\r\n")+lineMax-5+2)
		require.NoError(t, err)
		assert.Equal(t, "$65531\r\n"+strings.Repeat("x", lineMax-5)+"\r\n", got)
		got, err = exchange(c, strings.Repeat("y", lineMax+1), len("-ERR Protocol error: too big inline request\r\n"))
		require.NoError(t, err)
		assert.Equal(t, "-ERR Protocol error: too big inline request\r\n", got)
		requireClosed(t, c)
	})
}

// TestManyClients: clients incrementing one counter and their own keys at
// once, each pipelining, all see their replies and the totals add up.
func TestManyClients(t *testing.T) {
	ex := startKV(t)
	const clients, rounds, batch = 20, 50, 10
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			errs <- func() error {
				c, err := net.DialTimeout("tcp", ex.Addr, 5*time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
					return err
				}
				own := "own:" + strconv.Itoa(i)
				for r := range rounds {
					var b, want strings.Builder
					for k := range batch {
						n := r*batch + k + 1
						b.WriteString(req("INCR", "shared") + req("INCR", own) + req("GET", own))
						want.WriteString(":" + strconv.Itoa(n) + "\r\n$" + strconv.Itoa(len(strconv.Itoa(n))) + "\r\n" + strconv.Itoa(n) + "\r\n")
					}
					if _, err := io.WriteString(c, b.String()); err != nil {
						return err
					}
					if err := readReplies(c, batch, want.String()); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	for range clients {
		require.NoError(t, <-errs)
	}
	c := dial(t, ex.Addr)
	total := strconv.Itoa(clients * rounds * batch)
	want := "$" + strconv.Itoa(len(total)) + "\r\n" + total + "\r\n"
	got, err := exchange(c, req("GET", "shared"), len(want))
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// readReplies reads batch replies to INCR shared, INCR own, GET own, and
// checks the last two of each (the shared counter's value is anyone's).
func readReplies(c net.Conn, batch int, want string) error {
	var got strings.Builder
	buf := make([]byte, 1)
	readLine := func() (string, error) {
		var line []byte
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return "", err
			}
			line = append(line, buf[0])
			if buf[0] == '\n' {
				return string(line), nil
			}
		}
	}
	for range batch {
		shared, err := readLine()
		if err != nil {
			return err
		}
		if shared[0] != ':' {
			return errReply(shared)
		}
		for range 3 { // ":n", "$len", "n"
			line, err := readLine()
			if err != nil {
				return err
			}
			got.WriteString(line)
		}
	}
	if got.String() != want {
		return errReply(got.String())
	}
	return nil
}

type errReply string

func (e errReply) Error() string { return "unexpected reply " + strconv.Quote(string(e)) }
