package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// The hot path: what redis-benchmark sends for PING, SET, GET and INCR.
var hotCommands = []struct {
	name, frame, reply string
}{
	{"PING_INLINE", "PING\r\n", "+PONG\r\n"},
	{"PING", req("PING"), "+PONG\r\n"},
	{"SET", req("SET", "key:__rand_int__", "xxx"), "+OK\r\n"},
	{"GET", req("GET", "key:__rand_int__"), "$3\r\nxxx\r\n"},
	{"INCR", req("INCR", "counter:__rand_int__"), ""},
	{"MGET", req("MGET", "key:__rand_int__", "key:__rand_int__", "nokey"), "*3\r\n$3\r\nxxx\r\n$3\r\nxxx\r\n$-1\r\n"},
}

// newBenchSession is a connection's handler on a fresh keyspace, with
// key:__rand_int__ set, as after redis-benchmark's SET test.
func newBenchSession(tb testing.TB) *session {
	ks := newKeyspace(defaultShards, time.Hour)
	tb.Cleanup(ks.close)
	s := &session{db: ks, lim: limits{maxBulk: defaultMaxBulk, maxQuery: defaultMaxQuery}}
	s.HandlePacket(nil, []byte(req("SET", "key:__rand_int__", "xxx")))
	return s
}

// sent is what a Result asks to send.
func sent(r behaviours.Result) string {
	var out strings.Builder
	_ = r.Packets(func(p []byte) error { out.Write(p); return nil })
	return out.String()
}

// TestHotPathAllocs: PING, SET, GET, INCR and MGET on existing keys
// allocate nothing, from the frame to the Result.
func TestHotPathAllocs(t *testing.T) {
	s := newBenchSession(t)
	for _, hc := range hotCommands {
		frame := []byte(hc.frame)
		r := s.HandlePacket(nil, frame)
		if hc.reply != "" {
			require.Equal(t, hc.reply, sent(r), hc.name)
		}
		allocs := testing.AllocsPerRun(200, func() { s.HandlePacket(nil, frame) })
		assert.Zero(t, allocs, hc.name)
	}
}

// BenchmarkHandle runs one command through the connection's handler:
// parse the frame, run it on the keyspace, build the reply.
func BenchmarkHandle(b *testing.B) {
	for _, hc := range hotCommands {
		b.Run(hc.name, func(b *testing.B) {
			s := newBenchSession(b)
			frame := []byte(hc.frame)
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				s.HandlePacket(nil, frame)
			}
		})
	}
}

// BenchmarkHandleParallel: GET and SET from GOMAXPROCS connections at
// once, on one key (as redis-benchmark without -r) and on keys spread
// over the shards.
func BenchmarkHandleParallel(b *testing.B) {
	for _, tc := range []struct {
		name   string
		frames []string
	}{
		{"GET-one-key", []string{req("GET", "key:__rand_int__")}},
		{"SET-one-key", []string{req("SET", "key:__rand_int__", "xxx")}},
		{"GET-SET-spread", spreadFrames()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s0 := newBenchSession(b)
			for _, f := range tc.frames {
				s0.HandlePacket(nil, []byte(f))
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				s := &session{db: s0.db, lim: s0.lim}
				frames := make([][]byte, len(tc.frames))
				for i, f := range tc.frames {
					frames[i] = []byte(f)
				}
				i := 0
				for pb.Next() {
					s.HandlePacket(nil, frames[i%len(frames)])
					i++
				}
			})
		})
	}
}

func spreadFrames() []string {
	var frames []string
	for i := range 256 {
		k := "key:" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		frames = append(frames, req("SET", k, "xxx"), req("GET", k))
	}
	return frames
}

// BenchmarkScan runs the parser on one command, as the framer (scanning)
// and as the handler (collecting the arguments).
func BenchmarkScan(b *testing.B) {
	pipeline := strings.Repeat(req("GET", "key:__rand_int__"), 16)
	for _, tc := range []struct{ name, in string }{
		{"GET", req("GET", "key:__rand_int__")},
		{"SET", req("SET", "key:__rand_int__", "xxx")},
		{"SET-1KiB", req("SET", "key:__rand_int__", strings.Repeat("x", 1024))},
		{"MSET-10", req("MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8", "i", "9", "j", "10")},
		{"inline-PING", "PING\r\n"},
		{"inline-quoted", "SET \"key with spaces\" 'value'\r\n"},
	} {
		in := []byte(tc.in)
		b.Run("frame/"+tc.name, func(b *testing.B) {
			f := requestFramer{maxBulk: defaultMaxBulk}
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, n, _ := f.Decode(in, defaultMaxQuery); n != len(in) {
					b.Fatal(n)
				}
			}
		})
		b.Run("collect/"+tc.name, func(b *testing.B) {
			var c collector
			lim := limits{maxBulk: defaultMaxBulk, maxQuery: defaultMaxQuery}
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				c.args = c.args[:0]
				if n, _ := scanCommand(in, lim, &c); n != len(in) {
					b.Fatal(n)
				}
			}
		})
	}
	b.Run("frame/pipeline-16-GET", func(b *testing.B) {
		in := []byte(pipeline)
		f := requestFramer{maxBulk: defaultMaxBulk}
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			for rest := in; len(rest) > 0; {
				_, n, _ := f.Decode(rest, defaultMaxQuery)
				rest = rest[n:]
			}
		}
	})
}

// BenchmarkFrameBigMSET frames an MSET of 1,000,000 arguments (12.8 MB)
// arriving in 16 KiB reads, as the connection does: each read is appended
// to the pending bytes and the framer is called on them. "resume" keeps
// the framer's state from one read to the next (DecodeFrom); "rescan"
// calls Decode, which scans the command from its start on every read, as
// every framer did before transport.Resumer.
func BenchmarkFrameBigMSET(b *testing.B) {
	const read = 16 << 10
	wire := bigMSET(1_000_000)
	f := requestFramer{maxBulk: defaultMaxBulk}
	for _, resume := range []bool{true, false} {
		name := "rescan"
		if resume {
			name = "resume"
		}
		b.Run(name, func(b *testing.B) {
			pending := make([]byte, 0, len(wire))
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				pending = pending[:0]
				var s transport.ScanState
				for off := 0; ; off += read {
					pending = append(pending, wire[off:min(off+read, len(wire))]...)
					var n int
					if resume {
						_, n, s, _ = f.DecodeFrom(pending, defaultMaxQuery, s)
					} else {
						_, n, _ = f.Decode(pending, defaultMaxQuery)
					}
					if n > 0 {
						if n != len(wire) {
							b.Fatalf("frame of %d bytes, want %d", n, len(wire))
						}
						break
					}
				}
			}
		})
	}
}
