package main

import (
	"bytes"
	"math"
	"slices"
	"strconv"
)

// command is one entry of the command table.
type command struct {
	name string // lower case, as Redis names it in errors
	// arity counts the arguments with the command's name, as Redis's
	// command table does: n means exactly n, -n at least n.
	arity int
	run   func(s *session, args [][]byte)
}

// commands is every command, in no particular order.
var commands []*command

// commandTable finds a command by its name's hash: open addressing with
// linear probing, a little faster than a map, which matters on the hot
// path (lookup is a fifth of the cost of a GET otherwise).
var commandTable [128]*command

func init() {
	commands = []*command{
		{"ping", -1, cmdPing},
		{"echo", 2, cmdEcho},
		{"quit", -1, cmdQuit},
		{"get", 2, cmdGet},
		{"set", -3, cmdSet},
		{"del", -2, cmdDel},
		{"exists", -2, cmdExists},
		{"incr", 2, cmdIncr},
		{"decr", 2, cmdIncr},
		{"incrby", 3, cmdIncr},
		{"decrby", 3, cmdIncr},
		{"mget", -2, cmdMget},
		{"mset", -3, cmdMset},
		{"msetnx", -3, cmdMset},
		{"expire", -3, cmdExpire},
		{"pexpire", -3, cmdExpire},
		{"expireat", -3, cmdExpire},
		{"pexpireat", -3, cmdExpire},
		{"persist", 2, cmdPersist},
		{"ttl", 2, cmdTTL},
		{"pttl", 2, cmdTTL},
		{"type", 2, cmdType},
		{"keys", 2, cmdKeys},
		{"dbsize", 1, cmdDBSize},
		{"flushdb", -1, cmdFlush},
		{"flushall", -1, cmdFlush},
		{"select", 2, cmdSelect},
		{"auth", -2, cmdAuth},
		{"hello", -1, cmdHello},
		{"client", -2, cmdClient},
		{"config", -2, cmdConfig},
		{"command", -1, cmdCommand},
	}
	for _, c := range commands {
		if len(c.name) > maxNameLen || len(commands) > len(commandTable)/2 {
			panic("kv: command table too small for " + c.name)
		}
		i := nameHash([]byte(c.name))
		for commandTable[i] != nil {
			i = (i + 1) % len(commandTable)
		}
		commandTable[i] = c
	}
}

// nameHash is FNV-1a of a lower-case name, as a commandTable index.
func nameHash(lower []byte) int {
	h := uint32(2166136261)
	for _, c := range lower {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % uint32(len(commandTable)))
}

// maxNameLen is longer than any command's name.
const maxNameLen = 16

// lookup finds a command by name, in any case, without allocating.
func lookup(name []byte) *command {
	if len(name) > maxNameLen {
		return nil
	}
	var buf [maxNameLen]byte
	lower := buf[:len(name)]
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for i := nameHash(lower); commandTable[i] != nil; i = (i + 1) % len(commandTable) {
		if commandTable[i].name == string(lower) {
			return commandTable[i]
		}
	}
	return nil
}

// Error replies used more than once, as Redis words them.
const (
	errSyntax     = "ERR syntax error"
	errNotInteger = "ERR value is not an integer or out of range"
	errOverflow   = "ERR increment or decrement would overflow"
)

// errArity is Redis's wrong-arity error; name is "get", or "config|get"
// for a subcommand.
func errArity(name string) string {
	return "ERR wrong number of arguments for '" + name + "' command"
}

// errUnknown is Redis's unknown-command error: the name and the first
// arguments, quoted, up to about 128 bytes of them.
func errUnknown(args [][]byte) string {
	b := []byte("ERR unknown command '")
	b = append(b, args[0][:min(len(args[0]), 128)]...)
	b = append(b, "', with args beginning with: "...)
	listed := 0
	for _, a := range args[1:] {
		if listed >= 128 {
			break
		}
		a = a[:min(len(a), 128-listed)]
		b = append(b, '\'')
		b = append(b, a...)
		b = append(b, "' "...)
		listed += len(a) + 3
	}
	return string(b)
}

func errUnknownSub(sub []byte, cmd string) string {
	return "ERR unknown subcommand '" + string(sub[:min(len(sub), 128)]) + "'. Try " + cmd + " HELP."
}

// exec runs one command and appends its reply to s.out.
func (s *session) exec(args [][]byte) {
	c := lookup(args[0])
	switch {
	case c == nil:
		s.out = appendError(s.out, errUnknown(args))
	case (c.arity > 0 && len(args) != c.arity) || len(args) < -c.arity:
		s.out = appendError(s.out, errArity(c.name))
	default:
		s.cmd = c
		c.run(s, args)
	}
}

// is reports whether arg is word, in any case (word is upper case).
func is(arg []byte, word string) bool {
	if len(arg) != len(word) {
		return false
	}
	for i, c := range arg {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

func cmdPing(s *session, args [][]byte) {
	switch len(args) {
	case 1:
		s.out = append(s.out, "+PONG\r\n"...)
	case 2:
		s.out = appendBulk(s.out, args[1])
	default:
		s.out = appendError(s.out, errArity("ping"))
	}
}

func cmdEcho(s *session, args [][]byte) { s.out = appendBulk(s.out, args[1]) }

func cmdQuit(s *session, _ [][]byte) {
	s.out = append(s.out, "+OK\r\n"...)
	s.quit = true
}

func cmdGet(s *session, args [][]byte) { s.out = s.db.get(s.out, args[1]) }

// cmdSet: SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL],
// options in any order and case, as Redis 7.0 takes them.
func cmdSet(s *session, args [][]byte) {
	var o setOptions
	var expArg []byte
	var unit string // "EX", "PX", "EXAT" or "PXAT"
	for j := 3; j < len(args); j++ {
		opt, hasNext := args[j], j+1 < len(args)
		switch {
		case is(opt, "NX") && !o.xx:
			o.nx = true
		case is(opt, "XX") && !o.nx:
			o.xx = true
		case is(opt, "GET"):
			o.get = true
		case is(opt, "KEEPTTL") && unit == "":
			o.keepTTL = true
		case hasNext && !o.keepTTL && expiryUnit(opt) != "" && (unit == "" || unit == expiryUnit(opt)):
			unit = expiryUnit(opt)
			j++
			expArg = args[j]
		default:
			s.out = appendError(s.out, errSyntax)
			return
		}
	}
	if unit != "" {
		v, ok := parseInt(expArg)
		if !ok {
			s.out = appendError(s.out, errNotInteger)
			return
		}
		exp, ok := toUnixMilli(v, unit, s.db.now())
		if !ok || v <= 0 || exp <= 0 {
			s.out = appendError(s.out, "ERR invalid expire time in 'set' command")
			return
		}
		o.exp = exp
	}
	s.out = s.db.set(s.out, args[1], args[2], o)
}

// expiryUnit returns SET's expiry option opt in upper case: "EX", "PX",
// "EXAT" or "PXAT", or "" if it is none of them.
func expiryUnit(opt []byte) string {
	for _, w := range [...]string{"EX", "PX", "EXAT", "PXAT"} {
		if is(opt, w) {
			return w
		}
	}
	return ""
}

// toUnixMilli turns an expiry argument v in unit (EX, PX: seconds or
// milliseconds from now; EXAT, PXAT: Unix seconds or milliseconds) into
// Unix milliseconds, and reports false on overflow.
func toUnixMilli(v int64, unit string, now int64) (int64, bool) {
	if unit == "EX" || unit == "EXAT" {
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return 0, false
		}
		v *= 1000
	}
	if unit == "EX" || unit == "PX" {
		if v > math.MaxInt64-now {
			return 0, false
		}
		v += now
	}
	return v, true
}

func cmdDel(s *session, args [][]byte) {
	s.out = appendInt(s.out, int64(s.db.del(args[1:])))
}

func cmdExists(s *session, args [][]byte) {
	s.out = appendInt(s.out, int64(s.db.exists(args[1:])))
}

// cmdIncr runs INCR, DECR, INCRBY and DECRBY.
func cmdIncr(s *session, args [][]byte) {
	delta := int64(1)
	if len(args) == 3 {
		var ok bool
		if delta, ok = parseInt(args[2]); !ok {
			s.out = appendError(s.out, errNotInteger)
			return
		}
	}
	if s.cmd.name[0] == 'd' {
		if delta == math.MinInt64 {
			s.out = appendError(s.out, "ERR decrement would overflow")
			return
		}
		delta = -delta
	}
	v, errMsg := s.db.incrBy(args[1], delta)
	if errMsg != "" {
		s.out = appendError(s.out, errMsg)
		return
	}
	s.out = appendInt(s.out, v)
}

func cmdMget(s *session, args [][]byte) { s.out = s.db.mget(s.out, args[1:]) }

// cmdMset runs MSET and MSETNX.
func cmdMset(s *session, args [][]byte) {
	if len(args)%2 == 0 {
		s.out = appendError(s.out, errArity(s.cmd.name))
		return
	}
	nx := s.cmd.name == "msetnx"
	stored := s.db.mset(args[1:], nx)
	switch {
	case !nx:
		s.out = append(s.out, "+OK\r\n"...)
	case stored:
		s.out = appendInt(s.out, 1)
	default:
		s.out = appendInt(s.out, 0)
	}
}

// cmdExpire runs EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
func cmdExpire(s *session, args [][]byte) {
	flags := 0
	for _, opt := range args[3:] {
		switch {
		case is(opt, "NX"):
			flags |= expireNX
		case is(opt, "XX"):
			flags |= expireXX
		case is(opt, "GT"):
			flags |= expireGT
		case is(opt, "LT"):
			flags |= expireLT
		default:
			s.out = appendError(s.out, "ERR Unsupported option "+string(opt))
			return
		}
	}
	switch {
	case flags&expireNX != 0 && flags != expireNX:
		s.out = appendError(s.out, "ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	case flags&(expireGT|expireLT) == expireGT|expireLT:
		s.out = appendError(s.out, "ERR GT and LT options at the same time are not compatible")
		return
	}
	v, ok := parseInt(args[2])
	if !ok {
		s.out = appendError(s.out, errNotInteger)
		return
	}
	var unit string
	switch s.cmd.name {
	case "expire":
		unit = "EX"
	case "pexpire":
		unit = "PX"
	case "expireat":
		unit = "EXAT"
	default:
		unit = "PXAT"
	}
	at, ok := toUnixMilli(v, unit, s.db.now())
	if !ok {
		s.out = appendError(s.out, "ERR invalid expire time in '"+s.cmd.name+"' command")
		return
	}
	if s.db.expire(args[1], at, flags) {
		s.out = appendInt(s.out, 1)
	} else {
		s.out = appendInt(s.out, 0)
	}
}

func cmdPersist(s *session, args [][]byte) {
	if s.db.persist(args[1]) {
		s.out = appendInt(s.out, 1)
	} else {
		s.out = appendInt(s.out, 0)
	}
}

// cmdTTL runs TTL (seconds, rounded) and PTTL (milliseconds).
func cmdTTL(s *session, args [][]byte) {
	ms := s.db.ttl(args[1])
	if ms > 0 && s.cmd.name == "ttl" {
		ms = (ms + 500) / 1000
	}
	s.out = appendInt(s.out, ms)
}

func cmdType(s *session, args [][]byte) {
	if s.db.exists1(args[1]) {
		s.out = appendSimple(s.out, "string")
	} else {
		s.out = appendSimple(s.out, "none")
	}
}

func cmdKeys(s *session, args [][]byte) {
	keys := s.db.keys(args[1])
	s.out = appendArray(s.out, len(keys))
	for _, k := range keys {
		s.out = appendBulkString(s.out, k)
	}
}

func cmdDBSize(s *session, _ [][]byte) { s.out = appendInt(s.out, int64(s.db.size())) }

// cmdFlush runs FLUSHDB and FLUSHALL [ASYNC|SYNC] (both flush at once).
func cmdFlush(s *session, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !is(args[1], "ASYNC") && !is(args[1], "SYNC")) {
		s.out = appendError(s.out, errSyntax)
		return
	}
	s.db.flush()
	s.out = append(s.out, "+OK\r\n"...)
}

// cmdSelect: there is one database, 0.
func cmdSelect(s *session, args [][]byte) {
	v, ok := parseInt(args[1])
	switch {
	case !ok:
		s.out = appendError(s.out, errNotInteger)
	case v != 0:
		s.out = appendError(s.out, "ERR DB index is out of range")
	default:
		s.out = append(s.out, "+OK\r\n"...)
	}
}

// cmdAuth: no password is configured, so the default user needs none (as
// a Redis with no requirepass answers).
func cmdAuth(s *session, args [][]byte) {
	switch {
	case len(args) == 2:
		s.out = appendError(s.out, "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	case len(args) > 3:
		s.out = appendError(s.out, errSyntax)
	case string(args[1]) == "default":
		s.out = append(s.out, "+OK\r\n"...)
	default:
		s.out = appendError(s.out, "WRONGPASS invalid username-password pair or user is disabled.")
	}
}

// cmdHello: HELLO [protover [AUTH user pass] [SETNAME name]]. kv speaks
// RESP2 only, so protocol 3 is refused with NOPROTO and clients fall back.
func cmdHello(s *session, args [][]byte) {
	if len(args) >= 2 {
		v, ok := parseInt(args[1])
		switch {
		case !ok:
			s.out = appendError(s.out, "ERR Protocol version is not an integer or out of range")
			return
		case v != 2:
			s.out = appendError(s.out, "NOPROTO unsupported protocol version")
			return
		}
	}
	for j := 2; j < len(args); j++ {
		switch more := len(args) - j - 1; {
		case is(args[j], "AUTH") && more >= 2:
			if string(args[j+1]) != "default" {
				s.out = appendError(s.out, "WRONGPASS invalid username-password pair or user is disabled.")
				return
			}
			j += 2
		case is(args[j], "SETNAME") && more >= 1:
			if !validName(args[j+1]) {
				s.out = appendError(s.out, errBadName)
				return
			}
			s.name = append(s.name[:0], args[j+1]...)
			j++
		default:
			s.out = appendError(s.out, "ERR Syntax error in HELLO option '"+string(args[j])+"'")
			return
		}
	}
	s.out = appendArray(s.out, 14)
	s.out = appendBulkString(s.out, "server")
	s.out = appendBulkString(s.out, "kv")
	s.out = appendBulkString(s.out, "version")
	s.out = appendBulkString(s.out, serverVersion)
	s.out = appendBulkString(s.out, "proto")
	s.out = appendInt(s.out, 2)
	s.out = appendBulkString(s.out, "id")
	s.out = appendInt(s.out, s.id)
	s.out = appendBulkString(s.out, "mode")
	s.out = appendBulkString(s.out, "standalone")
	s.out = appendBulkString(s.out, "role")
	s.out = appendBulkString(s.out, "master")
	s.out = appendBulkString(s.out, "modules")
	s.out = appendArray(s.out, 0)
}

// serverVersion is the Redis version whose commands kv answers like.
const serverVersion = "7.0.0"

const errBadName = "ERR Client names cannot contain spaces, newlines or special characters."

// validName: a client name is printable ASCII without spaces.
func validName(b []byte) bool {
	for _, c := range b {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

// cmdClient: CLIENT ID, GETNAME, SETNAME name, SETINFO attr value.
func cmdClient(s *session, args [][]byte) {
	sub, arity := args[1], 0
	switch {
	case is(sub, "ID"), is(sub, "GETNAME"):
		arity = 2
	case is(sub, "SETNAME"):
		arity = 3
	case is(sub, "SETINFO"):
		arity = 4
	default:
		s.out = appendError(s.out, errUnknownSub(sub, "CLIENT"))
		return
	}
	if len(args) != arity {
		s.out = appendError(s.out, errArity("client|"+string(bytes.ToLower(sub))))
		return
	}
	switch {
	case is(sub, "ID"):
		s.out = appendInt(s.out, s.id)
	case is(sub, "GETNAME"):
		if len(s.name) == 0 {
			s.out = appendNull(s.out)
		} else {
			s.out = appendBulk(s.out, s.name)
		}
	case is(sub, "SETNAME"):
		if !validName(args[2]) {
			s.out = appendError(s.out, errBadName)
			return
		}
		s.name = append(s.name[:0], args[2]...)
		s.out = append(s.out, "+OK\r\n"...)
	default: // SETINFO lib-name / lib-ver: accepted and forgotten
		s.out = append(s.out, "+OK\r\n"...)
	}
}

// cmdConfig: CONFIG GET param... answers from a small fixed table (what
// redis-benchmark and redis-cli ask for, and kv's limits); CONFIG SET
// changes nothing; CONFIG RESETSTAT is accepted.
func cmdConfig(s *session, args [][]byte) {
	sub := args[1]
	switch {
	case is(sub, "GET"):
		if len(args) < 3 {
			s.out = appendError(s.out, errArity("config|get"))
			return
		}
		params := s.configTable()
		var found []int
		for _, pattern := range args[2:] {
			pattern = bytes.ToLower(pattern) // parameter names are lower case
			for i, p := range params {
				if !slices.Contains(found, i) && globMatch(pattern, p[0]) {
					found = append(found, i)
				}
			}
		}
		s.out = appendArray(s.out, 2*len(found))
		for _, i := range found {
			s.out = appendBulkString(s.out, params[i][0])
			s.out = appendBulkString(s.out, params[i][1])
		}
	case is(sub, "SET"):
		if len(args) < 4 || len(args)%2 != 0 {
			s.out = appendError(s.out, errArity("config|set"))
			return
		}
		s.out = appendError(s.out, "ERR Unknown option or number of arguments for CONFIG SET - '"+string(args[2])+"'")
	case is(sub, "RESETSTAT"):
		s.out = append(s.out, "+OK\r\n"...)
	default:
		s.out = appendError(s.out, errUnknownSub(sub, "CONFIG"))
	}
}

// configTable is what CONFIG GET knows: name, value.
func (s *session) configTable() [][2]string {
	return [][2]string{
		{"save", ""},
		{"appendonly", "no"},
		{"databases", "1"},
		{"maxmemory", "0"},
		{"proto-max-bulk-len", strconv.Itoa(s.lim.maxBulk)},
		{"client-query-buffer-limit", strconv.Itoa(s.lim.maxQuery)},
	}
}

// cmdCommand: COMMAND and COMMAND DOCS answer an empty array (redis-cli
// asks for the docs at start, for its hints, and does without); COMMAND
// COUNT and LIST tell what kv knows; COMMAND INFO has nothing to say.
func cmdCommand(s *session, args [][]byte) {
	if len(args) == 1 {
		s.out = appendArray(s.out, 0)
		return
	}
	sub := args[1]
	switch {
	case is(sub, "DOCS"):
		s.out = appendArray(s.out, 0)
	case is(sub, "INFO"):
		s.out = appendArray(s.out, len(args)-2)
		for range args[2:] {
			s.out = appendNull(s.out)
		}
	case is(sub, "COUNT"), is(sub, "LIST"):
		if len(args) != 2 {
			s.out = appendError(s.out, errArity("command|"+string(bytes.ToLower(sub))))
			return
		}
		if is(sub, "COUNT") {
			s.out = appendInt(s.out, int64(len(commands)))
			return
		}
		names := make([]string, 0, len(commands))
		for _, c := range commands {
			names = append(names, c.name)
		}
		slices.Sort(names)
		s.out = appendArray(s.out, len(names))
		for _, name := range names {
			s.out = appendBulkString(s.out, name)
		}
	default:
		s.out = appendError(s.out, errUnknownSub(sub, "COMMAND"))
	}
}
