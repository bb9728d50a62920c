package main

import (
	"bytes"
	"errors"
	"hash/maphash"
	"net"
	"strconv"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// With -resp the program is a reference Redis-protocol server instead of
// an echo server: the handful of commands redis-benchmark's PING, SET,
// GET, INCR and MSET tests send (plus the CONFIG GET it sends first), in
// RESP multi-bulk form, every command of a read answered in order in one
// write. The load tool runs it beside examples/kv and redis-server
// (-tests redis -c gnet, or -c net for -engine net: one goroutine per
// connection on plain net), to show what Go's two server models reach on
// the same work. It is a yardstick, not a Redis: no expiry, no inline
// commands, and a malformed request closes the connection.

// store is the keyspace: 64 shards, each with its own lock.
type store struct {
	seed   maphash.Seed
	shards [64]struct {
		mu sync.Mutex
		m  map[string][]byte
		_  [40]byte // a shard per cache line pair: busy shards do not share one
	}
}

func newStore() *store {
	s := &store{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = make(map[string][]byte)
	}
	return s
}

// errProto is a request the reference server does not parse.
var errProto = errors.New("malformed request")

// parseCommand reads one multi-bulk command from b into args (reused).
// n is 0 while the command is incomplete.
func parseCommand(b []byte, args [][]byte) (_ [][]byte, n int, err error) {
	if len(b) == 0 {
		return args, 0, nil
	}
	if b[0] != '*' {
		return args, 0, errProto
	}
	count, pos, ok := parseLen(b, 1)
	if !ok || count < 1 {
		return args, 0, nil
	}
	args = args[:0]
	for range count {
		if pos >= len(b) {
			return args, 0, nil
		}
		if b[pos] != '$' {
			return args, 0, errProto
		}
		size, next, ok := parseLen(b, pos+1)
		if !ok {
			return args, 0, nil
		}
		if next+size+2 > len(b) {
			return args, 0, nil
		}
		args = append(args, b[next:next+size])
		pos = next + size + 2
	}
	return args, pos, nil
}

// parseLen reads a decimal length ending in CRLF at b[pos:]; ok is false
// while the line is incomplete.
func parseLen(b []byte, pos int) (v, next int, ok bool) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 1 {
		return 0, 0, false
	}
	v, err := strconv.Atoi(string(b[pos : pos+i-1]))
	if err != nil || v < 0 {
		return 0, 0, false
	}
	return v, pos + i + 1, true
}

func (s *store) shard(k []byte) (*sync.Mutex, map[string][]byte) {
	sh := &s.shards[maphash.Bytes(s.seed, k)&63]
	return &sh.mu, sh.m
}

// exec appends the reply to args to out.
func (s *store) exec(out []byte, args [][]byte) []byte {
	cmd := args[0]
	switch {
	case bytes.EqualFold(cmd, []byte("PING")):
		return append(out, "+PONG\r\n"...)
	case bytes.EqualFold(cmd, []byte("SET")) && len(args) >= 3:
		s.set(args[1], args[2])
		return append(out, "+OK\r\n"...)
	case bytes.EqualFold(cmd, []byte("MSET")) && len(args)%2 == 1:
		for i := 1; i < len(args); i += 2 {
			s.set(args[i], args[i+1])
		}
		return append(out, "+OK\r\n"...)
	case bytes.EqualFold(cmd, []byte("GET")) && len(args) == 2:
		mu, m := s.shard(args[1])
		mu.Lock()
		defer mu.Unlock()
		v, ok := m[string(args[1])]
		if !ok {
			return append(out, "$-1\r\n"...)
		}
		out = strconv.AppendInt(append(out, '$'), int64(len(v)), 10)
		return append(append(append(out, "\r\n"...), v...), "\r\n"...)
	case bytes.EqualFold(cmd, []byte("INCR")) && len(args) == 2:
		mu, m := s.shard(args[1])
		mu.Lock()
		defer mu.Unlock()
		n, _ := strconv.ParseInt(string(m[string(args[1])]), 10, 64)
		n++
		m[string(args[1])] = strconv.AppendInt(nil, n, 10)
		return append(strconv.AppendInt(append(out, ':'), n, 10), "\r\n"...)
	case bytes.EqualFold(cmd, []byte("CONFIG")):
		return append(out, "*0\r\n"...)
	}
	return append(out, "-ERR unknown command or wrong number of arguments\r\n"...)
}

func (s *store) set(k, v []byte) {
	mu, m := s.shard(k)
	mu.Lock()
	m[string(k)] = bytes.Clone(v)
	mu.Unlock()
}

// serveAll answers every complete command in b, appending the replies to
// out; it returns how many bytes it used.
func (s *store) serveAll(b, out []byte, args [][]byte) (used int, _ []byte, _ [][]byte, err error) {
	for {
		var n int
		args, n, err = parseCommand(b[used:], args)
		if err != nil || n == 0 {
			return used, out, args, err
		}
		out = s.exec(out, args)
		used += n
	}
}

// respGnet is the reference server on gnet.
type respGnet struct {
	*echo
	db *store
}

// OnTraffic answers the complete commands that have arrived.
func (r *respGnet) OnTraffic(c gnet.Conn) gnet.Action {
	b, err := c.Peek(-1)
	if err != nil {
		return gnet.Close
	}
	used, out, _, err := r.db.serveAll(b, nil, nil)
	if err != nil {
		return gnet.Close
	}
	if _, err := c.Discard(used); err != nil {
		return gnet.Close
	}
	if len(out) > 0 {
		if _, err := c.Write(out); err != nil {
			return gnet.Close
		}
	}
	return gnet.None
}

// serveRespNet is the reference server on plain net: one goroutine per
// connection. It returns when ln is closed; the connections' goroutines
// end with their peers, or with the process.
func serveRespNet(ln net.Listener, db *store) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 16<<10)
			var pending, out []byte
			var args [][]byte
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				b := buf[:n]
				if len(pending) > 0 {
					pending = append(pending, b...)
					b = pending
				}
				var used int
				used, out, args, err = db.serveAll(b, out[:0], args)
				if err != nil {
					return
				}
				pending = append(pending[:0], b[used:]...)
				if len(out) > 0 {
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}
		}()
	}
}
