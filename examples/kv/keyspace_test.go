package main

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestKeyspace makes a keyspace whose clock the test moves, with a
// sweeper that never runs by itself (tests call sweep).
func newTestKeyspace(t *testing.T, shards int) (*keyspace, *atomic.Int64) {
	ks := newKeyspace(shards, time.Hour)
	t.Cleanup(ks.close)
	clock := new(atomic.Int64)
	clock.Store(1_000_000)
	ks.now = clock.Load
	return ks, clock
}

func b(s string) []byte { return []byte(s) }

func TestKeyspaceExpiry(t *testing.T) {
	ks, clock := newTestKeyspace(t, 4)
	ks.set(nil, b("a"), b("1"), setOptions{exp: clock.Load() + 100})
	ks.set(nil, b("b"), b("2"), setOptions{})
	assert.Equal(t, "$1\r\n1\r\n", string(ks.get(nil, b("a"))))
	assert.Equal(t, int64(100), ks.ttl(b("a")))
	assert.Equal(t, int64(-1), ks.ttl(b("b")))

	clock.Add(100) // a expires now
	assert.Equal(t, "$-1\r\n", string(ks.get(nil, b("a"))))
	assert.Equal(t, int64(-2), ks.ttl(b("a")))
	assert.Equal(t, 0, ks.exists([][]byte{b("a")}))
	assert.Equal(t, []string{"b"}, ks.keys(b("*")))
	assert.Equal(t, 2, ks.size(), "an expired key stays until a write or the sweeper removes it")
	ks.sweep()
	assert.Equal(t, 1, ks.size())

	// A write finds an expired key gone: INCR starts again from 0.
	ks.set(nil, b("n"), b("41"), setOptions{exp: clock.Load() + 1})
	clock.Add(1)
	v, errMsg := ks.incrBy(b("n"), 1)
	require.Empty(t, errMsg)
	assert.Equal(t, int64(1), v)
	assert.Equal(t, int64(-1), ks.ttl(b("n")), "the new key has no TTL")
	assert.Zero(t, volatile(ks))
}

// TestSweep: the sweeper deletes every expired key, going round a shard
// while a sample is mostly expired, and leaves the others.
func TestSweep(t *testing.T) {
	ks, clock := newTestKeyspace(t, 2)
	for i := range 1000 {
		ks.set(nil, b("gone:"+strconv.Itoa(i)), b("v"), setOptions{exp: clock.Load() + 10})
	}
	for i := range 100 {
		ks.set(nil, b("stays:"+strconv.Itoa(i)), b("v"), setOptions{exp: clock.Load() + 1000})
		ks.set(nil, b("plain:"+strconv.Itoa(i)), b("v"), setOptions{})
	}
	assert.Equal(t, 1100, volatile(ks))
	clock.Add(10)
	for range 100 {
		if ks.size() == 200 {
			break
		}
		ks.sweep()
	}
	assert.Equal(t, 200, ks.size())
	assert.Equal(t, 100, volatile(ks))
	assert.Len(t, ks.keys(b("stays:*")), 100)
}

func volatile(ks *keyspace) int {
	n := 0
	for i := range ks.shards {
		ks.shards[i].mu.RLock()
		n += ks.shards[i].volatile
		ks.shards[i].mu.RUnlock()
	}
	return n
}

// TestVolatileCount: every way a TTL comes and goes keeps the count of
// keys with a TTL right.
func TestVolatileCount(t *testing.T) {
	ks, clock := newTestKeyspace(t, 3)
	later := clock.Load() + 1000
	ks.set(nil, b("a"), b("1"), setOptions{exp: later})
	ks.set(nil, b("a"), b("2"), setOptions{keepTTL: true})
	assert.Equal(t, 1, volatile(ks))
	ks.set(nil, b("a"), b("3"), setOptions{})
	assert.Equal(t, 0, volatile(ks))
	assert.True(t, ks.expire(b("a"), later, 0))
	assert.True(t, ks.expire(b("a"), later+1, expireGT))
	assert.Equal(t, 1, volatile(ks))
	assert.True(t, ks.persist(b("a")))
	assert.Equal(t, 0, volatile(ks))
	assert.True(t, ks.expire(b("a"), later, 0))
	ks.mset([][]byte{b("a"), b("4")}, false)
	assert.Equal(t, 0, volatile(ks), "MSET clears TTLs")
	assert.True(t, ks.expire(b("a"), later, 0))
	assert.Equal(t, 1, ks.del([][]byte{b("a")}))
	assert.Equal(t, 0, volatile(ks))
	ks.set(nil, b("a"), b("1"), setOptions{exp: later})
	assert.True(t, ks.expire(b("a"), clock.Load(), 0), "an expiry in the past deletes")
	assert.Equal(t, 0, volatile(ks))
	assert.Equal(t, 0, ks.size())
	ks.set(nil, b("a"), b("1"), setOptions{exp: later})
	ks.flush()
	assert.Equal(t, 0, volatile(ks))
}

// TestValueReuse: SET over an existing key reuses its memory only when the
// new value fits without much waste, and a value read before is not
// changed by a later SET.
func TestValueReuse(t *testing.T) {
	ks, _ := newTestKeyspace(t, 1)
	ks.set(nil, b("k"), b("abc"), setOptions{})
	before := ks.get(nil, b("k"))
	ks.set(nil, b("k"), b("xyz"), setOptions{})
	assert.Equal(t, "$3\r\nabc\r\n", string(before))
	assert.Equal(t, "$3\r\nxyz\r\n", string(ks.get(nil, b("k"))))

	old := ks.shards[0].m["k"].val
	ks.set(nil, b("k"), b("xy"), setOptions{})
	assert.Equal(t, &old[0], &ks.shards[0].m["k"].val[0], "reused")
	big := make([]byte, 1000)
	ks.set(nil, b("k"), big, setOptions{})
	ks.set(nil, b("k"), b("a"), setOptions{})
	assert.LessOrEqual(t, cap(ks.shards[0].m["k"].val), 64, "a small value does not keep a big buffer")
}

// TestMultiKeyAtomic: MSET is atomic: readers running MGET over the same
// keys never see half of one, over any number of shards (more than 256
// uses a lock set off the stack).
func TestMultiKeyAtomic(t *testing.T) {
	for _, shards := range []int{1, 7, 64, 300} {
		t.Run(strconv.Itoa(shards), func(t *testing.T) {
			ks, _ := newTestKeyspace(t, shards)
			keys := make([][]byte, 20)
			for i := range keys {
				keys[i] = b("key:" + strconv.Itoa(i))
			}
			const writes = 300
			var wg sync.WaitGroup
			stop := make(chan struct{})
			var torn atomic.Int64
			for w := range 2 {
				wg.Go(func() {
					kv := make([][]byte, 0, 2*len(keys))
					for i := range writes {
						v := b(strconv.Itoa(w*writes + i))
						kv = kv[:0]
						for _, k := range keys {
							kv = append(kv, k, v)
						}
						ks.mset(kv, false)
					}
				})
			}
			var readers sync.WaitGroup
			for range 2 {
				readers.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						reply := ks.mget(nil, keys)
						if !allSame(reply, len(keys)) {
							torn.Add(1)
						}
					}
				})
			}
			wg.Wait()
			close(stop)
			readers.Wait()
			assert.Zero(t, torn.Load(), "MGET saw a partial MSET")
			assert.Equal(t, len(keys), ks.exists(keys))
			assert.Equal(t, len(keys), ks.del(append(keys, keys...)))
			assert.Equal(t, 0, ks.size())
		})
	}
}

// allSame reports whether an MGET reply of n values holds n equal
// values, or n nulls.
func allSame(reply []byte, n int) bool {
	header := "*" + strconv.Itoa(n) + "\r\n"
	if string(reply[:len(header)]) != header {
		return false
	}
	body := reply[len(header):]
	if len(body)%n != 0 {
		return false
	}
	one := body[:len(body)/n]
	for i := range n {
		if string(body[i*len(one):(i+1)*len(one)]) != string(one) {
			return false
		}
	}
	return true
}

// TestConcurrentIncr: INCRs from many goroutines on the same keys are
// never lost.
func TestConcurrentIncr(t *testing.T) {
	ks, _ := newTestKeyspace(t, 8)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range each {
				if _, errMsg := ks.incrBy(b("shared"), 1); errMsg != "" {
					t.Error(errMsg)
				}
				if _, errMsg := ks.incrBy(b("k"+strconv.Itoa(i%10)), -1); errMsg != "" {
					t.Error(errMsg)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, "$4\r\n4000\r\n", string(ks.get(nil, b("shared"))))
	assert.Equal(t, "$4\r\n-400\r\n", string(ks.get(nil, b("k3"))))
}

// globRef is a plain recursive matcher, as Redis's stringmatchlen, for
// FuzzGlob: it checks globMatch's handling of '*' (backtracking to the
// last star instead of recursing), and shares globOne, the one-byte
// elements, which TestKeysGlobs checks against redis-server.
func globRef(p, s []byte) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for i := range len(s) {
				if globRef(p[1:], s[i:]) {
					return true
				}
			}
			return false
		}
		if len(s) == 0 {
			return false
		}
		next, ok := globOne(p, 0, s[0])
		if !ok {
			return false
		}
		p, s = p[next:], s[1:]
	}
	return len(s) == 0
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "abc", true}, {"a*", "a", true},
		{"a*c", "abbbc", true}, {"a*c", "abbb", false}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXcYb", false},
		{"?", "", false}, {"?", "a", true}, {"??", "a", false},
		{"[abc]", "b", true}, {"[abc]", "d", false}, {"[^abc]", "d", true}, {"[^abc]", "a", false},
		{"[a-c]", "b", true}, {"[c-a]", "b", true}, {"[a-c]", "d", false}, {"[a-cx]", "x", true},
		{"\\*", "*", true}, {"\\*", "a", false}, {"[\\]]", "]", true}, {"[\\-]", "-", true},
		{"a\\", "a\\", true}, {"[", "x", false}, {"[ab", "b", true}, {"[]", "]", false}, {"[a-]", "^", true},
		{"*a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false},
	} {
		assert.Equal(t, tc.want, globMatch(b(tc.pattern), tc.s), "%q %q", tc.pattern, tc.s)
		assert.Equal(t, tc.want, globRef(b(tc.pattern), b(tc.s)), "reference: %q %q", tc.pattern, tc.s)
	}
}

// FuzzGlob: globMatch agrees with the recursive reference.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"h*llo", "hello"}, {"h[^e]llo", "hallo"}, {"*a*b?c", "xxaxbyc"}, {"[a-", "a"}, {"\\", "\\"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 24 || len(s) > 24 {
			return // the reference takes exponential time
		}
		if got, want := globMatch(b(pattern), s), globRef(b(pattern), b(s)); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, reference %v", pattern, s, got, want)
		}
	})
}
