package main

import (
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
	"time"
)

// keyspace is the database: string keys to string values, spread over
// shards that each have their own lock, so clients touching different
// shards never wait for each other. A key's shard is its hash (maphash)
// modulo the shard count.
//
// Commands on one key lock its shard only. Commands on several keys
// (MGET, MSET, MSETNX, DEL, EXISTS) lock every shard they touch, in
// ascending order (so they cannot deadlock), and are therefore atomic:
// no client sees half of an MSET. KEYS, DBSIZE and FLUSHDB visit the
// shards one after the other: each shard is consistent, the whole is not
// a snapshot.
//
// Expiry is lazy and periodic, like Redis's. An expired key is invisible
// at once: readers skip it, and writers that find it delete it. Every
// sweep period (-expire-interval) a sweeper samples the keys of each shard
// that has keys with a TTL and deletes the expired ones, sampling again
// while more than a quarter of a sample had expired.
//
// Values are stored as copies, never as the slices of a request, and a
// value may be overwritten in place by SET or INCR (the slice is reused
// when it is large enough): readers therefore copy a value out while they
// hold the shard's lock, straight into the connection's reply buffer,
// which is why the methods below append RESP replies themselves.
type keyspace struct {
	shards []shard
	seed   maphash.Seed
	now    func() int64 // Unix milliseconds; a field so tests can move time

	stop chan struct{}
	done chan struct{}
}

// shard is one lock and the keys under it. It is padded to its own cache
// lines so that two busy shards do not share one.
type shard struct {
	mu       sync.RWMutex
	m        map[string]*entry
	volatile int // keys with a TTL, for the sweeper
	_        [96]byte
}

// entry is one value and its expiry time.
type entry struct {
	val []byte
	exp int64 // Unix milliseconds; 0 = no TTL
}

// expired reports whether e has a TTL that ended at or before now.
func (e *entry) expired(now int64) bool { return e.exp != 0 && e.exp <= now }

// Sweeper settings, as Redis's active expiry cycle: look at up to
// sampleKeys keys with a TTL per round, visiting at most sampleVisits
// keys, and go again while more than a quarter of them had expired.
const (
	sampleKeys   = 20
	sampleVisits = 400
	sampleRounds = 16
)

// newKeyspace makes a keyspace of n shards and starts its sweeper, which
// runs every sweep until close.
func newKeyspace(n int, sweep time.Duration) *keyspace {
	ks := &keyspace{
		shards: make([]shard, n),
		seed:   maphash.MakeSeed(),
		now:    func() int64 { return time.Now().UnixMilli() },
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := range ks.shards {
		ks.shards[i].m = make(map[string]*entry)
	}
	go ks.sweeper(sweep)
	return ks
}

// close stops the sweeper and waits for it.
func (ks *keyspace) close() {
	close(ks.stop)
	<-ks.done
}

func (ks *keyspace) shardIndex(key []byte) int {
	return int(maphash.Bytes(ks.seed, key) % uint64(len(ks.shards)))
}

func (ks *keyspace) shardOf(key []byte) *shard { return &ks.shards[ks.shardIndex(key)] }

// lookup returns key's live entry (shard locked, for reading or writing).
func (sh *shard) lookup(key []byte, now func() int64) *entry {
	e := sh.m[string(key)]
	if e == nil || (e.exp != 0 && e.exp <= now()) {
		return nil
	}
	return e
}

// lookupWrite returns key's live entry, deleting it if it has expired
// (shard locked for writing).
func (sh *shard) lookupWrite(key []byte, now func() int64) *entry {
	e := sh.m[string(key)]
	if e != nil && e.exp != 0 && e.exp <= now() {
		sh.remove(key, e)
		return nil
	}
	return e
}

// remove deletes key, whose entry is e (shard locked for writing).
func (sh *shard) remove(key []byte, e *entry) {
	if e.exp != 0 {
		sh.volatile--
	}
	delete(sh.m, string(key))
}

// put stores val under key with expiry exp, reusing the entry and its
// value's memory when the key exists (shard locked for writing). keepTTL
// keeps an existing key's expiry instead of exp.
func (sh *shard) put(key, val []byte, exp int64, keepTTL bool) {
	e := sh.m[string(key)]
	if e == nil {
		e = &entry{val: cloneBytes(val)}
		sh.m[string(key)] = e
	} else {
		e.val = reuse(e.val, val)
		if keepTTL {
			return
		}
	}
	sh.setExp(e, exp)
}

// setExp changes e's expiry, keeping the count of volatile keys.
func (sh *shard) setExp(e *entry, exp int64) {
	switch {
	case e.exp == 0 && exp != 0:
		sh.volatile++
	case e.exp != 0 && exp == 0:
		sh.volatile--
	}
	e.exp = exp
}

// reuse copies val over old when old's memory fits it without wasting
// more than half, and into new memory otherwise.
func reuse(old, val []byte) []byte {
	if cap(old) >= len(val) && cap(old) <= 2*len(val)+32 {
		return append(old[:0], val...)
	}
	return cloneBytes(val)
}

// cloneBytes copies b; unlike bytes.Clone an empty b gives an empty,
// non-nil slice.
func cloneBytes(b []byte) []byte { return append(make([]byte, 0, len(b)), b...) }

// get appends key's value as a bulk string, or a null bulk string.
func (ks *keyspace) get(dst, key []byte) []byte {
	sh := ks.shardOf(key)
	sh.mu.RLock()
	e := sh.lookup(key, ks.now)
	if e == nil {
		sh.mu.RUnlock()
		return appendNull(dst)
	}
	dst = appendBulk(dst, e.val)
	sh.mu.RUnlock()
	return dst
}

// setOptions are SET's options, already checked.
type setOptions struct {
	nx, xx, get, keepTTL bool
	exp                  int64 // absolute, Unix ms; 0 = none
}

// set runs SET and appends its reply: OK, or a null bulk string when NX
// or XX stopped it; with GET, the old value (or null) whatever happened.
// An expiry already in the past deletes the key instead (as Redis does
// for EXAT and PXAT).
func (ks *keyspace) set(dst, key, val []byte, o setOptions) []byte {
	sh := ks.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookupWrite(key, ks.now)
	if o.get {
		if e == nil {
			dst = appendNull(dst)
		} else {
			dst = appendBulk(dst, e.val)
		}
	}
	if (o.nx && e != nil) || (o.xx && e == nil) {
		if !o.get {
			dst = appendNull(dst)
		}
		return dst
	}
	if o.exp != 0 && o.exp <= ks.now() {
		if e != nil {
			sh.remove(key, e)
		}
	} else {
		sh.put(key, val, o.exp, o.keepTTL)
	}
	if !o.get {
		dst = append(dst, "+OK\r\n"...)
	}
	return dst
}

// incrBy adds delta to key's integer value (a missing key counts as 0),
// keeping its TTL, and returns the new value.
func (ks *keyspace) incrBy(key []byte, delta int64) (int64, string) {
	sh := ks.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookupWrite(key, ks.now)
	var v int64
	if e != nil {
		var ok bool
		if v, ok = parseInt(e.val); !ok {
			return 0, errNotInteger
		}
	}
	if (delta > 0 && v > math.MaxInt64-delta) || (delta < 0 && v < math.MinInt64-delta) {
		return 0, errOverflow
	}
	v += delta
	var num [20]byte
	s := appendInt64(num[:0], v)
	if e == nil {
		sh.put(key, s, 0, false)
	} else {
		e.val = reuse(e.val, s)
	}
	return v, ""
}

// lockSet is a set of shard indexes, held as a bitmap so that locking
// them in ascending order needs no sorting. Up to 256 shards it lives on
// the caller's stack.
type lockSet struct {
	small [4]uint64
	big   []uint64 // for more than 256 shards
}

func (l *lockSet) init(shards int) {
	if n := (shards + 63) / 64; n > len(l.small) {
		l.big = make([]uint64, n)
	}
}

func (l *lockSet) add(i int) {
	if l.big != nil {
		l.big[i/64] |= 1 << (i % 64)
	} else {
		l.small[i/64] |= 1 << (i % 64)
	}
}

// each calls f for each shard index in the set, in ascending order.
func (l *lockSet) each(f func(i int)) {
	words := l.small[:]
	if l.big != nil {
		words = l.big
	}
	for w, word := range words {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &^= 1 << b
			f(w*64 + b)
		}
	}
}

// lockKeys locks the shards of keys[0], keys[step], keys[2*step]...: for
// reading or for writing; unlock undoes it.
func (ks *keyspace) lockKeys(l *lockSet, keys [][]byte, step int, write bool) {
	l.init(len(ks.shards))
	for i := 0; i < len(keys); i += step {
		l.add(ks.shardIndex(keys[i]))
	}
	l.each(func(i int) {
		if write {
			ks.shards[i].mu.Lock()
		} else {
			ks.shards[i].mu.RLock()
		}
	})
}

func (ks *keyspace) unlockKeys(l *lockSet, write bool) {
	l.each(func(i int) {
		if write {
			ks.shards[i].mu.Unlock()
		} else {
			ks.shards[i].mu.RUnlock()
		}
	})
}

// mget appends the values of keys as an array of bulk strings (null for
// a missing key), read atomically.
func (ks *keyspace) mget(dst []byte, keys [][]byte) []byte {
	var l lockSet
	ks.lockKeys(&l, keys, 1, false)
	defer ks.unlockKeys(&l, false)
	dst = appendArray(dst, len(keys))
	for _, k := range keys {
		if e := ks.shardOf(k).lookup(k, ks.now); e != nil {
			dst = appendBulk(dst, e.val)
		} else {
			dst = appendNull(dst)
		}
	}
	return dst
}

// mset stores key-value pairs (kv holds key, value, key, value...)
// atomically, clearing their TTLs. With nx it stores nothing if any key
// exists, and reports whether it stored.
func (ks *keyspace) mset(kv [][]byte, nx bool) bool {
	var l lockSet
	ks.lockKeys(&l, kv, 2, true)
	defer ks.unlockKeys(&l, true)
	if nx {
		for i := 0; i < len(kv); i += 2 {
			if ks.shardOf(kv[i]).lookupWrite(kv[i], ks.now) != nil {
				return false
			}
		}
	}
	for i := 0; i < len(kv); i += 2 {
		ks.shardOf(kv[i]).put(kv[i], kv[i+1], 0, false)
	}
	return true
}

// del deletes keys atomically and returns how many existed.
func (ks *keyspace) del(keys [][]byte) int {
	var l lockSet
	ks.lockKeys(&l, keys, 1, true)
	defer ks.unlockKeys(&l, true)
	n := 0
	for _, k := range keys {
		sh := ks.shardOf(k)
		if e := sh.lookupWrite(k, ks.now); e != nil {
			sh.remove(k, e)
			n++
		}
	}
	return n
}

// exists counts the keys that exist (a key named twice counts twice).
func (ks *keyspace) exists(keys [][]byte) int {
	var l lockSet
	ks.lockKeys(&l, keys, 1, false)
	defer ks.unlockKeys(&l, false)
	n := 0
	for _, k := range keys {
		if ks.shardOf(k).lookup(k, ks.now) != nil {
			n++
		}
	}
	return n
}

// The options of EXPIRE, combined as Redis allows (XX with GT or LT).
const (
	expireNX = 1 << iota // only if the key has no TTL
	expireXX             // only if it has one
	expireGT             // only if the new expiry is later (no TTL counts as infinite)
	expireLT             // only if it is sooner
)

// expire sets key's expiry to at (Unix ms) under the options in flags,
// deleting the key when at is not in the future. It reports whether it
// did anything.
func (ks *keyspace) expire(key []byte, at int64, flags int) bool {
	sh := ks.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookupWrite(key, ks.now)
	switch {
	case e == nil,
		flags&expireNX != 0 && e.exp != 0,
		flags&expireXX != 0 && e.exp == 0,
		flags&expireGT != 0 && (e.exp == 0 || at <= e.exp),
		flags&expireLT != 0 && e.exp != 0 && at >= e.exp:
		return false
	}
	if at <= ks.now() {
		sh.remove(key, e)
	} else {
		sh.setExp(e, at)
	}
	return true
}

// persist clears key's TTL and reports whether it had one.
func (ks *keyspace) persist(key []byte) bool {
	sh := ks.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookupWrite(key, ks.now)
	if e == nil || e.exp == 0 {
		return false
	}
	sh.setExp(e, 0)
	return true
}

// ttl returns key's remaining time to live in milliseconds, -1 when it
// has no TTL, -2 when it does not exist.
func (ks *keyspace) ttl(key []byte) int64 {
	sh := ks.shardOf(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.m[string(key)]
	if e == nil {
		return -2
	}
	if e.exp == 0 {
		return -1
	}
	left := e.exp - ks.now()
	if left <= 0 {
		return -2
	}
	return left
}

// exists1 reports whether key exists.
func (ks *keyspace) exists1(key []byte) bool {
	sh := ks.shardOf(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.lookup(key, ks.now) != nil
}

// keys returns the live keys that match a Redis glob pattern, shard by
// shard.
func (ks *keyspace) keys(pattern []byte) []string {
	var out []string
	all := len(pattern) == 1 && pattern[0] == '*'
	now := ks.now()
	for i := range ks.shards {
		sh := &ks.shards[i]
		sh.mu.RLock()
		for k, e := range sh.m {
			if !e.expired(now) && (all || globMatch(pattern, k)) {
				out = append(out, k)
			}
		}
		sh.mu.RUnlock()
	}
	return out
}

// size is the number of keys, counting expired keys not removed yet (as
// Redis's DBSIZE does).
func (ks *keyspace) size() int {
	n := 0
	for i := range ks.shards {
		sh := &ks.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// flush deletes every key, shard by shard.
func (ks *keyspace) flush() {
	for i := range ks.shards {
		sh := &ks.shards[i]
		sh.mu.Lock()
		sh.m = make(map[string]*entry)
		sh.volatile = 0
		sh.mu.Unlock()
	}
}

// sweeper deletes expired keys every period until close.
func (ks *keyspace) sweeper(period time.Duration) {
	defer close(ks.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ks.stop:
			return
		case <-t.C:
			ks.sweep()
		}
	}
}

// sweep runs one expiry cycle over every shard with keys that have a TTL.
func (ks *keyspace) sweep() {
	for i := range ks.shards {
		sh := &ks.shards[i]
		for range sampleRounds {
			sh.mu.Lock()
			sampled, expired := sh.sweepSample(ks.now())
			sh.mu.Unlock()
			if sampled == 0 || expired*4 <= sampled {
				break
			}
		}
	}
}

// sweepSample looks at some keys with a TTL (shard locked for writing),
// deletes the expired ones, and returns how many it looked at and how
// many it deleted. Go's map iteration starts at a random place, which
// makes the sample random.
func (sh *shard) sweepSample(now int64) (sampled, expired int) {
	if sh.volatile == 0 {
		return 0, 0
	}
	visits := 0
	for k, e := range sh.m {
		if visits++; visits > sampleVisits || sampled == sampleKeys {
			break
		}
		if e.exp == 0 {
			continue
		}
		sampled++
		if e.exp <= now {
			sh.volatile--
			delete(sh.m, k)
			expired++
		}
	}
	return sampled, expired
}
