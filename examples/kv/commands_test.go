package main

import (
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// step is one redis-cli command and what redis-cli prints for its reply.
type step struct {
	args []string
	want string
	// kvOnly marks replies where kv differs from Redis on purpose (COMMAND
	// DOCS is empty, HELLO names kv, RESP3 is refused).
	kvOnly bool
	// match: want is a regular expression.
	match bool
}

func errArityOut(name string) string {
	return "(error) ERR wrong number of arguments for '" + name + "' command"
}

const (
	syntaxOut      = "(error) ERR syntax error"
	notIntegerOut  = "(error) ERR value is not an integer or out of range"
	overflowOut    = "(error) ERR increment or decrement would overflow"
	invalidSetTime = "(error) ERR invalid expire time in 'set' command"
)

// script runs in order on one server: each command's reply depends on the
// ones before. TestCommandsMatchRedis runs it against a real redis-server,
// so every expected reply here is Redis 7.0's, kvOnly steps aside.
var script = []step{
	{args: []string{"FLUSHALL"}, want: "OK"},

	// PING, ECHO, QUIT
	{args: []string{"PING"}, want: "PONG"},
	{args: []string{"ping"}, want: "PONG"},
	{args: []string{"PING", "hi there"}, want: `"hi there"`},
	{args: []string{"PING", "a", "b"}, want: errArityOut("ping")},
	{args: []string{"ECHO", "hello"}, want: `"hello"`},
	{args: []string{"ECHO", ""}, want: `""`},
	{args: []string{"ECHO"}, want: errArityOut("echo")},
	{args: []string{"ECHO", "a", "b"}, want: errArityOut("echo")},
	{args: []string{"QUIT"}, want: "OK"},

	// GET and SET with its options
	{args: []string{"GET", "k"}, want: "(nil)"},
	{args: []string{"SET", "k", "v1"}, want: "OK"},
	{args: []string{"GET", "k"}, want: `"v1"`},
	{args: []string{"get", "k"}, want: `"v1"`},
	{args: []string{"GET"}, want: errArityOut("get")},
	{args: []string{"GET", "k", "x"}, want: errArityOut("get")},
	{args: []string{"SET", "k"}, want: errArityOut("set")},
	{args: []string{"SET", "k", "v2", "XX"}, want: "OK"},
	{args: []string{"SET", "k", "v3", "nx"}, want: "(nil)"},
	{args: []string{"GET", "k"}, want: `"v2"`},
	{args: []string{"SET", "new", "v", "XX"}, want: "(nil)"},
	{args: []string{"GET", "new"}, want: "(nil)"},
	{args: []string{"SET", "new", "v", "NX"}, want: "OK"},
	{args: []string{"SET", "k", "v4", "GET"}, want: `"v2"`},
	{args: []string{"SET", "absent", "v", "GET"}, want: "(nil)"},
	{args: []string{"SET", "k", "v5", "NX", "GET"}, want: `"v4"`},
	{args: []string{"GET", "k"}, want: `"v4"`},
	{args: []string{"SET", "bin", "a\x01b\r\nc\"d"}, want: "OK"},
	{args: []string{"GET", "bin"}, want: `"a\x01b\r\nc\"d"`},
	{args: []string{"SET", "", "empty key"}, want: "OK"},
	{args: []string{"GET", ""}, want: `"empty key"`},
	{args: []string{"SET", "k", "v", "NX", "XX"}, want: syntaxOut},
	{args: []string{"SET", "k", "v", "XX", "NX"}, want: syntaxOut},
	{args: []string{"SET", "k", "v", "EX", "10", "PX", "100"}, want: syntaxOut},
	{args: []string{"SET", "k", "v", "EX"}, want: syntaxOut},
	{args: []string{"SET", "k", "v", "FOO"}, want: syntaxOut},
	{args: []string{"SET", "k", "v", "KEEPTTL", "EX", "1"}, want: syntaxOut},
	{args: []string{"SET", "k", "v", "EX", "1", "KEEPTTL"}, want: syntaxOut},
	{args: []string{"SET", "k", "v", "EX", "0"}, want: invalidSetTime},
	{args: []string{"SET", "k", "v", "EX", "-5"}, want: invalidSetTime},
	{args: []string{"SET", "k", "v", "PX", "9223372036854775807"}, want: invalidSetTime},
	{args: []string{"SET", "k", "v", "EX", "9223372036854775807"}, want: invalidSetTime},
	{args: []string{"SET", "k", "v", "EX", "abc"}, want: notIntegerOut},
	{args: []string{"SET", "k", "v", "EX", "1.5"}, want: notIntegerOut},
	{args: []string{"GET", "k"}, want: `"v4"`},

	// TTLs: a TTL rounds the time left to the second, so a slow step may see N-1
	{args: []string{"SET", "t", "v", "EX", "100"}, want: "OK"},
	{args: []string{"TTL", "t"}, want: `^\(integer\) (99|100)$`, match: true},
	{args: []string{"PTTL", "t"}, want: `^\(integer\) (99\d\d\d|100000)$`, match: true},
	{args: []string{"SET", "t", "v2", "KEEPTTL"}, want: "OK"},
	{args: []string{"TTL", "t"}, want: `^\(integer\) (99|100)$`, match: true},
	{args: []string{"SET", "t", "v3"}, want: "OK"},
	{args: []string{"TTL", "t"}, want: "(integer) -1"},
	{args: []string{"SET", "t", "v", "ex", "100", "ex", "200"}, want: "OK"},
	{args: []string{"TTL", "t"}, want: `^\(integer\) (199|200)$`, match: true},
	{args: []string{"SET", "t", "v", "PX", "300000"}, want: "OK"},
	{args: []string{"TTL", "t"}, want: `^\(integer\) (299|300)$`, match: true},
	{args: []string{"SET", "t", "v", "EXAT", "99999999999"}, want: "OK"},
	{args: []string{"TTL", "t"}, want: `^\(integer\) 9\d{10}$`, match: true},
	{args: []string{"SET", "past", "v", "PXAT", "1"}, want: "OK"},
	{args: []string{"GET", "past"}, want: "(nil)"},
	{args: []string{"EXISTS", "past"}, want: "(integer) 0"},
	{args: []string{"TTL", "nokey"}, want: "(integer) -2"},
	{args: []string{"PTTL", "nokey"}, want: "(integer) -2"},
	{args: []string{"PTTL", "k"}, want: "(integer) -1"},
	{args: []string{"TTL"}, want: errArityOut("ttl")},

	// EXPIRE and its options
	{args: []string{"EXPIRE", "k", "100"}, want: "(integer) 1"},
	{args: []string{"TTL", "k"}, want: `^\(integer\) (99|100)$`, match: true},
	{args: []string{"EXPIRE", "k", "200", "NX"}, want: "(integer) 0"},
	{args: []string{"EXPIRE", "k", "50", "GT"}, want: "(integer) 0"},
	{args: []string{"EXPIRE", "k", "300", "gt"}, want: "(integer) 1"},
	{args: []string{"TTL", "k"}, want: `^\(integer\) (299|300)$`, match: true},
	{args: []string{"EXPIRE", "k", "50", "LT"}, want: "(integer) 1"},
	{args: []string{"TTL", "k"}, want: `^\(integer\) (49|50)$`, match: true},
	{args: []string{"EXPIRE", "k", "60", "XX", "GT"}, want: "(integer) 1"},
	{args: []string{"PERSIST", "k"}, want: "(integer) 1"},
	{args: []string{"PERSIST", "k"}, want: "(integer) 0"},
	{args: []string{"TTL", "k"}, want: "(integer) -1"},
	{args: []string{"EXPIRE", "k", "100", "XX"}, want: "(integer) 0"},
	{args: []string{"EXPIRE", "k", "100", "GT"}, want: "(integer) 0"},
	{args: []string{"EXPIRE", "k", "100", "LT"}, want: "(integer) 1"},
	{args: []string{"PEXPIRE", "k", "200000"}, want: "(integer) 1"},
	{args: []string{"TTL", "k"}, want: `^\(integer\) (199|200)$`, match: true},
	{args: []string{"PEXPIREAT", "k", "9223372036854775807"}, want: "(integer) 1"},
	{args: []string{"PERSIST", "k"}, want: "(integer) 1"},
	{args: []string{"EXPIRE", "nokey", "100"}, want: "(integer) 0"},
	{args: []string{"EXPIRE", "k", "10", "NX", "XX"}, want: "(error) ERR NX and XX, GT or LT options at the same time are not compatible"},
	{args: []string{"EXPIRE", "k", "10", "GT", "LT"}, want: "(error) ERR GT and LT options at the same time are not compatible"},
	{args: []string{"EXPIRE", "k", "10", "Foo"}, want: "(error) ERR Unsupported option Foo"},
	{args: []string{"EXPIRE", "k", "abc"}, want: notIntegerOut},
	{args: []string{"EXPIRE", "k", "9223372036854775807"}, want: "(error) ERR invalid expire time in 'expire' command"},
	{args: []string{"PEXPIRE", "k", "9223372036854775807"}, want: "(error) ERR invalid expire time in 'pexpire' command"},
	{args: []string{"EXPIRE", "k"}, want: errArityOut("expire")},
	{args: []string{"GET", "k"}, want: `"v4"`},
	{args: []string{"EXPIREAT", "k", "1"}, want: "(integer) 1"},
	{args: []string{"EXISTS", "k"}, want: "(integer) 0"},
	{args: []string{"SET", "k", "v"}, want: "OK"},
	{args: []string{"EXPIRE", "k", "0"}, want: "(integer) 1"},
	{args: []string{"GET", "k"}, want: "(nil)"},
	{args: []string{"SET", "k", "v"}, want: "OK"},
	{args: []string{"PEXPIRE", "k", "-1"}, want: "(integer) 1"},
	{args: []string{"EXISTS", "k"}, want: "(integer) 0"},

	// DEL, EXISTS, MGET, MSET, MSETNX
	{args: []string{"MSET", "a", "1", "b", "2", "c", "3"}, want: "OK"},
	{args: []string{"EXISTS", "a", "a", "b", "zz"}, want: "(integer) 3"},
	{args: []string{"DEL", "a", "a", "zz"}, want: "(integer) 1"},
	{args: []string{"DEL", "a"}, want: "(integer) 0"},
	{args: []string{"MGET", "a", "b", "c", "zz"}, want: "1) (nil)\n2) \"2\"\n3) \"3\"\n4) (nil)"},
	{args: []string{"MGET", "b"}, want: "1) \"2\""},
	{args: []string{"DEL"}, want: errArityOut("del")},
	{args: []string{"EXISTS"}, want: errArityOut("exists")},
	{args: []string{"MGET"}, want: errArityOut("mget")},
	{args: []string{"MSET", "a"}, want: errArityOut("mset")},
	{args: []string{"MSET", "a", "1", "b"}, want: errArityOut("mset")},
	{args: []string{"MSETNX", "b", "1", "a", "9"}, want: "(integer) 0"},
	{args: []string{"MGET", "a", "b"}, want: "1) (nil)\n2) \"2\""},
	{args: []string{"MSETNX", "x1", "1", "x2", "2"}, want: "(integer) 1"},
	{args: []string{"MGET", "x1", "x2"}, want: "1) \"1\"\n2) \"2\""},
	{args: []string{"MSETNX", "x1"}, want: errArityOut("msetnx")},
	{args: []string{"SET", "b", "v", "EX", "100"}, want: "OK"},
	{args: []string{"MSET", "b", "2"}, want: "OK"},
	{args: []string{"TTL", "b"}, want: "(integer) -1"},

	// INCR, DECR, INCRBY, DECRBY
	{args: []string{"INCR", "counter"}, want: "(integer) 1"},
	{args: []string{"INCRBY", "counter", "10"}, want: "(integer) 11"},
	{args: []string{"DECR", "counter"}, want: "(integer) 10"},
	{args: []string{"DECRBY", "counter", "-5"}, want: "(integer) 15"},
	{args: []string{"decrby", "counter", "20"}, want: "(integer) -5"},
	{args: []string{"GET", "counter"}, want: `"-5"`},
	{args: []string{"INCRBY", "counter", "x"}, want: notIntegerOut},
	{args: []string{"INCR", "b"}, want: "(integer) 3"},
	{args: []string{"SET", "s", "abc"}, want: "OK"},
	{args: []string{"INCR", "s"}, want: notIntegerOut},
	{args: []string{"SET", "s", "01"}, want: "OK"},
	{args: []string{"INCR", "s"}, want: notIntegerOut},
	{args: []string{"SET", "s", " 1"}, want: "OK"},
	{args: []string{"INCR", "s"}, want: notIntegerOut},
	{args: []string{"SET", "s", "+1"}, want: "OK"},
	{args: []string{"INCR", "s"}, want: notIntegerOut},
	{args: []string{"SET", "s", "-0"}, want: "OK"},
	{args: []string{"INCR", "s"}, want: notIntegerOut},
	{args: []string{"SET", "s", "9223372036854775808"}, want: "OK"},
	{args: []string{"INCR", "s"}, want: notIntegerOut},
	{args: []string{"SET", "s", "9223372036854775807"}, want: "OK"},
	{args: []string{"INCR", "s"}, want: overflowOut},
	{args: []string{"DECR", "s"}, want: "(integer) 9223372036854775806"},
	{args: []string{"SET", "s", "-9223372036854775808"}, want: "OK"},
	{args: []string{"DECR", "s"}, want: overflowOut},
	{args: []string{"INCRBY", "s", "-1"}, want: overflowOut},
	{args: []string{"INCRBY", "s", "9223372036854775807"}, want: "(integer) -1"},
	{args: []string{"DECRBY", "s", "-9223372036854775808"}, want: "(error) ERR decrement would overflow"},
	{args: []string{"INCR"}, want: errArityOut("incr")},
	{args: []string{"INCRBY", "s"}, want: errArityOut("incrby")},
	{args: []string{"SET", "tc", "5", "EX", "100"}, want: "OK"},
	{args: []string{"INCR", "tc"}, want: "(integer) 6"},
	{args: []string{"TTL", "tc"}, want: `^\(integer\) (99|100)$`, match: true},

	// TYPE, DBSIZE, FLUSHDB, FLUSHALL
	{args: []string{"TYPE", "tc"}, want: "string"},
	{args: []string{"TYPE", "zz"}, want: "none"},
	{args: []string{"FLUSHDB"}, want: "OK"},
	{args: []string{"DBSIZE"}, want: "(integer) 0"},
	{args: []string{"MSET", "a", "1", "b", "2", "c", "3"}, want: "OK"},
	{args: []string{"DBSIZE"}, want: "(integer) 3"},
	{args: []string{"DBSIZE", "x"}, want: errArityOut("dbsize")},
	{args: []string{"FLUSHDB", "foo"}, want: syntaxOut},
	{args: []string{"FLUSHDB", "SYNC", "x"}, want: syntaxOut},
	{args: []string{"DBSIZE"}, want: "(integer) 3"},
	{args: []string{"FLUSHDB", "async"}, want: "OK"},
	{args: []string{"DBSIZE"}, want: "(integer) 0"},
	{args: []string{"SET", "a", "1"}, want: "OK"},
	{args: []string{"FLUSHALL", "SYNC"}, want: "OK"},
	{args: []string{"DBSIZE"}, want: "(integer) 0"},

	// Unknown commands, with Redis's quoting and truncation
	{args: []string{"FOO", "a", "b"}, want: "(error) ERR unknown command 'FOO', with args beginning with: 'a' 'b' "},
	{args: []string{"foo"}, want: "(error) ERR unknown command 'foo', with args beginning with: "},
	{args: []string{"foo", "a\r\nb"}, want: "(error) ERR unknown command 'foo', with args beginning with: 'a  b' "},
	{args: []string{"foo", strings.Repeat("x", 100), strings.Repeat("y", 100), "z"}, want: "(error) ERR unknown command 'foo', with args beginning with: '" +
		strings.Repeat("x", 100) + "' '" + strings.Repeat("y", 25) + "' "},
	{args: []string{strings.Repeat("c", 130)}, want: "(error) ERR unknown command '" + strings.Repeat("c", 128) + "', with args beginning with: "},

	// What clients and tools send at start
	{args: []string{"SELECT", "0"}, want: "OK"},
	{args: []string{"SELECT", "16"}, want: "(error) ERR DB index is out of range"},
	{args: []string{"SELECT", "x"}, want: notIntegerOut},
	{args: []string{"SELECT", "1"}, want: "(error) ERR DB index is out of range", kvOnly: true},
	{args: []string{"CONFIG", "GET", "save"}, want: "1) \"save\"\n2) \"\""},
	{args: []string{"CONFIG", "GET", "appendonly"}, want: "1) \"appendonly\"\n2) \"no\""},
	{args: []string{"CONFIG", "GET", "nosuchparam"}, want: "(empty array)"},
	{args: []string{"CONFIG", "GET", "proto-max-bulk-len"}, want: "1) \"proto-max-bulk-len\"\n2) \"67108864\"", kvOnly: true},
	{args: []string{"CONFIG", "GET"}, want: errArityOut("config|get")},
	{args: []string{"CONFIG"}, want: errArityOut("config")},
	{args: []string{"CONFIG", "FOO"}, want: "(error) ERR unknown subcommand 'FOO'. Try CONFIG HELP."},
	{args: []string{"CONFIG", "SET", "foo", "bar"}, want: "(error) ERR Unknown option or number of arguments for CONFIG SET - 'foo'"},
	{args: []string{"CLIENT"}, want: errArityOut("client")},
	{args: []string{"CLIENT", "FOO"}, want: "(error) ERR unknown subcommand 'FOO'. Try CLIENT HELP."},
	{args: []string{"CLIENT", "SETNAME"}, want: errArityOut("client|setname")},
	{args: []string{"CLIENT", "SETNAME", "a b"}, want: "(error) ERR Client names cannot contain spaces, newlines or special characters."},
	{args: []string{"CLIENT", "SETNAME", "bob"}, want: "OK"},
	{args: []string{"CLIENT", "GETNAME"}, want: "(nil)"}, // each step is a new connection
	{args: []string{"CLIENT", "ID"}, want: `^\(integer\) \d+$`, match: true},
	{args: []string{"COMMAND", "FOO"}, want: "(error) ERR unknown subcommand 'FOO'. Try COMMAND HELP."},
	{args: []string{"COMMAND", "DOCS"}, want: "(empty array)", kvOnly: true},
	{args: []string{"COMMAND"}, want: "(empty array)", kvOnly: true},
	{args: []string{"COMMAND", "COUNT"}, want: `^\(integer\) \d+$`, match: true},
	{args: []string{"AUTH", "x"}, want: "(error) ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"},
	{args: []string{"AUTH", "bob", "x"}, want: "(error) WRONGPASS invalid username-password pair or user is disabled."},
	{args: []string{"AUTH", "default", "x"}, want: "OK"},
	{args: []string{"HELLO", "4"}, want: "(error) NOPROTO unsupported protocol version"},
	{args: []string{"HELLO", "x"}, want: "(error) ERR Protocol version is not an integer or out of range"},
	{args: []string{"HELLO", "3"}, want: "(error) NOPROTO unsupported protocol version", kvOnly: true},
	{args: []string{"HELLO", "2", "SETNAME", "bob"}, kvOnly: true, match: true,
		want: `(?s)^ 1\) "server"\n 2\) "kv"\n 3\) "version"\n 4\) "7.0.0"\n 5\) "proto"\n 6\) \(integer\) 2\n 7\) "id"\n 8\) \(integer\) \d+\n.*14\) \(empty array\)$`},
}

// TestCommands runs the script through redis-cli against kv.
func TestCommands(t *testing.T) {
	tool(t, "redis-cli")
	ex := startKV(t)
	runScript(t, ex.Addr, false)
}

// TestCommandsMatchRedis runs the script against a real redis-server: it
// checks that the replies the script expects are Redis's.
func TestCommandsMatchRedis(t *testing.T) {
	tool(t, "redis-cli")
	runScript(t, redis70(t), true)
}

// redis70 starts a real redis-server, or skips the test unless it is
// installed and version 7.0, whose replies the tests hold.
func redis70(t *testing.T) string {
	out, err := exec.Command(tool(t, "redis-server"), "--version").Output()
	require.NoError(t, err)
	if !regexp.MustCompile(`\bv=7\.0\.`).Match(out) {
		t.Skipf("the expected replies are Redis 7.0's; redis-server is %s", out)
	}
	return redisServer(t)
}

func runScript(t *testing.T, addr string, redis bool) {
	for i, s := range script {
		if redis && s.kvOnly {
			continue
		}
		got := cli(t, addr, s.args...)
		if s.match {
			assert.Regexp(t, s.want, got, "step %d: %q", i, s.args)
		} else {
			assert.Equal(t, s.want, got, "step %d: %q", i, s.args)
		}
	}
}

// TestKeysGlobs runs KEYS patterns through redis-cli, against kv and,
// when it is installed, against redis-server.
func TestKeysGlobs(t *testing.T) {
	tool(t, "redis-cli")
	keys := []string{"hello", "hallo", "hxllo", "hllo", "heeeello", "h?llo", "h*llo", "h[llo", "h\\llo",
		"a-b", "a]b", "^x", "", "user:1", "user:2", "user:10", "x"}
	cases := []struct {
		pattern string
		want    []string
	}{
		{"*", keys},
		{"h?llo", []string{"hello", "hallo", "hxllo", "h?llo", "h*llo", "h[llo", "h\\llo"}},
		{"h*llo", []string{"hello", "hallo", "hxllo", "hllo", "heeeello", "h?llo", "h*llo", "h[llo", "h\\llo"}},
		{"h**llo", []string{"hello", "hallo", "hxllo", "hllo", "heeeello", "h?llo", "h*llo", "h[llo", "h\\llo"}},
		{"h[ae]llo", []string{"hello", "hallo"}},
		{"h[^e]llo", []string{"hallo", "hxllo", "h?llo", "h*llo", "h[llo", "h\\llo"}},
		{"h[a-b]llo", []string{"hallo"}},
		{"h[z-w]llo", []string{"hxllo"}},
		{"h\\?llo", []string{"h?llo"}},
		{"h\\*llo", []string{"h*llo"}},
		{"h[\\[]llo", []string{"h[llo"}},
		{"h\\\\llo", []string{"h\\llo"}},
		{"a[]-]b", nil}, // "[]" is an empty set
		{"a[-]b", []string{"a-b"}},
		{"a[\\]]b", []string{"a]b"}},
		{"[\\^]*", []string{"^x"}},
		{"user:?", []string{"user:1", "user:2"}},
		{"user:*", []string{"user:1", "user:2", "user:10"}},
		{"user:1*", []string{"user:1", "user:10"}},
		{"*1*", []string{"user:1", "user:10"}},
		{"user:[0-9]", []string{"user:1", "user:2"}},
		{"user:[0-9][0-9]", []string{"user:10"}},
		{"[x", []string{"x"}},
		{"nomatch", nil},
		{"?", []string{"x"}},
		{"", []string{""}},
	}
	check := func(t *testing.T, addr string) {
		for _, k := range keys {
			require.Equal(t, "OK", cli(t, addr, "SET", k, "v"))
		}
		require.Equal(t, "OK", cli(t, addr, "SET", "gone", "v", "PX", "1"))
		for _, tc := range cases {
			assert.Equal(t, sortedLines(tc.want), keysOut(t, addr, tc.pattern), "KEYS %q", tc.pattern)
		}
		assert.Equal(t, errArityOut("keys"), cli(t, addr, "KEYS"))
	}
	t.Run("kv", func(t *testing.T) { check(t, startKV(t).Addr) })
	t.Run("redis-server", func(t *testing.T) { check(t, redis70(t)) })
}

// keysOut runs KEYS pattern and returns the keys it printed, sorted, as
// redis-cli quotes them.
func keysOut(t *testing.T, addr, pattern string) []string {
	out := cli(t, addr, "KEYS", pattern)
	if out == "(empty array)" {
		return []string{}
	}
	var keys []string
	for line := range strings.SplitSeq(out, "\n") {
		_, key, ok := strings.Cut(line, ") ")
		require.True(t, ok, "line %q", line)
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

// sortedLines quotes keys as redis-cli prints them and sorts them.
func sortedLines(keys []string) []string {
	out := []string{}
	for _, k := range keys {
		out = append(out, `"`+strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), `"`, `\"`)+`"`)
	}
	slices.Sort(out)
	return out
}

// TestExpiry: keys set with small PX values disappear, seen through
// redis-cli, and the sweeper deletes expired keys nobody reads.
func TestExpiry(t *testing.T) {
	tool(t, "redis-cli")
	ex := startKV(t, "-expire-interval", "10ms")
	require.Equal(t, "OK", cli(t, ex.Addr, "SET", "short", "v", "PX", "100"))
	require.Equal(t, "OK", cli(t, ex.Addr, "SET", "long", "v", "EX", "100"))
	require.Equal(t, "OK", cli(t, ex.Addr, "SET", "plain", "v"))
	require.Equal(t, "(integer) 1", cli(t, ex.Addr, "PEXPIRE", "plain", "150"))
	assert.Eventually(t, func() bool {
		return cli(t, ex.Addr, "GET", "short") == "(nil)" && cli(t, ex.Addr, "GET", "plain") == "(nil)"
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "(integer) -2", cli(t, ex.Addr, "TTL", "short"))
	assert.Equal(t, "(integer) 0", cli(t, ex.Addr, "EXISTS", "short", "plain"))
	assert.Equal(t, `"v"`, cli(t, ex.Addr, "GET", "long"))

	// 500 keys with a TTL, set in one pipelined write and never read
	// again: only the sweeper can bring DBSIZE down to the one key left.
	c := dial(t, ex.Addr)
	var pipeline strings.Builder
	for i := range 500 {
		pipeline.WriteString(req("SET", "vol:"+strconv.Itoa(i), "v", "PX", "20"))
	}
	reply, err := exchange(c, pipeline.String(), 500*len("+OK\r\n"))
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("+OK\r\n", 500), reply)
	assert.Eventually(t, func() bool {
		return cli(t, ex.Addr, "DBSIZE") == "(integer) 1"
	}, 10*time.Second, 10*time.Millisecond, "the sweeper removes expired keys")
}

// TestCLIStdin: redis-cli reading commands from its input asks COMMAND
// DOCS first (for its hints) and must get on with an empty answer.
func TestCLIStdin(t *testing.T) {
	bin := tool(t, "redis-cli")
	ex := startKV(t)
	host, port, err := net.SplitHostPort(ex.Addr)
	require.NoError(t, err)
	cmd := exec.Command(bin, "-h", host, "-p", port, "--no-raw")
	cmd.Stdin = strings.NewReader("SET a 'x y'\nGET a\nINCR n\nPING\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "OK\n\"x y\"\n(integer) 1\nPONG\n", string(out))
}
