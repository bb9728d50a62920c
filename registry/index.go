package registry

// index is a shard's table of names: open addressing with linear probing
// over (hash, entry) pairs, 16 bytes a slot, kept between 3/8 and 3/4
// full. The hash that picked the shard also places the name, so a
// lookup hashes its name once; a probe compares hashes before names.
type index struct {
	slots []slot // a power of two long, or nil
	n     int
}

type slot struct {
	h uint64 // the name's hash with the low bit set; 0 = empty
	e *entry
}

const minSlots = 16

// pos is where a hash would like to be. The low bits picked the shard.
func (ix *index) pos(h uint64) int { return int(h>>8) & (len(ix.slots) - 1) }

func (ix *index) get(h uint64, name string) *entry {
	if ix.slots == nil {
		return nil
	}
	h |= 1
	for i := ix.pos(h); ; i = (i + 1) & (len(ix.slots) - 1) {
		s := &ix.slots[i]
		if s.h == h && s.e.name == name {
			return s.e
		}
		if s.h == 0 {
			return nil
		}
	}
}

// put adds e, whose name is not in the table.
func (ix *index) put(h uint64, e *entry) {
	if (ix.n+1)*4 > len(ix.slots)*3 {
		ix.resize(max(minSlots, len(ix.slots)*2))
	}
	ix.place(h|1, e)
	ix.n++
}

func (ix *index) place(h uint64, e *entry) {
	i := ix.pos(h)
	for ix.slots[i].h != 0 {
		i = (i + 1) & (len(ix.slots) - 1)
	}
	ix.slots[i] = slot{h, e}
}

// del removes e, which is in the table under h, shifting later members
// of its probe run back so that no tombstone is left.
func (ix *index) del(h uint64, e *entry) {
	h |= 1
	mask := len(ix.slots) - 1
	i := ix.pos(h)
	for ix.slots[i].e != e {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; ix.slots[j].h != 0; j = (j + 1) & mask {
		k := ix.pos(ix.slots[j].h)
		// Slot j may move to the hole at i unless its home k lies
		// cyclically in (i, j].
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			ix.slots[i] = ix.slots[j]
			i = j
		}
	}
	ix.slots[i] = slot{}
	ix.n--
	if len(ix.slots) > minSlots && ix.n*8 < len(ix.slots)*3/2 {
		ix.resize(len(ix.slots) / 2)
	}
}

func (ix *index) resize(size int) {
	old := ix.slots
	ix.slots = make([]slot, size)
	for _, s := range old {
		if s.h != 0 {
			ix.place(s.h, s.e)
		}
	}
}

// all calls fn for every entry until it returns false.
func (ix *index) all(fn func(*entry) bool) {
	for _, s := range ix.slots {
		if s.h != 0 && !fn(s.e) {
			return
		}
	}
}
