package manage

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/etcp-go/etcp/actors"
)

// The filter and top-N selection of a connection listing: every
// connection is offered once; those that match are kept in a bounded
// heap (the worst kept at its root), so a listing of the top N of M
// connections costs O(M log N) comparisons and N copies, and only the
// N travel.

// filter is a Query's conditions, prepared.
type filter struct {
	owner    string
	state    string
	minBytes uint64
	kind     Kind
	prefix   []byte       // a peer address prefix, as text
	cidr     netip.Prefix // or a CIDR prefix
}

func newFilter(q Query) (filter, error) {
	f := filter{owner: q.Owner, state: q.State, minBytes: q.MinBytes, kind: q.Kind}
	if q.Kind > KindClient {
		return f, fmt.Errorf("%w: kind %d", ErrInvalid, q.Kind)
	}
	switch q.State {
	case "", "up", "hibernated", "passivated", "closing":
	default:
		return f, fmt.Errorf("%w: state %q: want up, hibernated, passivated or closing", ErrInvalid, q.State)
	}
	if q.PeerPrefix != "" {
		if strings.Contains(q.PeerPrefix, "/") {
			p, err := netip.ParsePrefix(q.PeerPrefix)
			if err != nil {
				return f, fmt.Errorf("%w: peer prefix %q: %v", ErrInvalid, q.PeerPrefix, err)
			}
			f.cidr = p.Masked()
		} else {
			f.prefix = []byte(q.PeerPrefix)
		}
	}
	return f, nil
}

// item is one connection kept by a selector.
type item struct {
	st   actors.ConnStats
	kind Kind
}

// selector keeps the top limit connections that match a filter.
type selector struct {
	f       filter
	before  func(a, b *item) bool // a ranks before b
	key     SortKey
	limit   int
	total   int
	matched int
	heap    []item // the kept ones; heap[0] ranks last
	cand    item   // the one offered (a field: a local would escape through before)
	buf     []byte
}

func newSelector(q Query) (*selector, error) {
	f, err := newFilter(q)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	case limit == 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	before, err := ranking(q.Sort)
	if err != nil {
		return nil, err
	}
	return &selector{f: f, before: before, key: q.Sort, limit: limit, heap: make([]item, 0, min(limit, 1024))}, nil
}

// byID orders by owner, then id: the tie-break of every ranking, so
// listings are stable.
func byID(a, b *item) bool {
	if c := strings.Compare(a.st.Owner, b.st.Owner); c != 0 {
		return c < 0
	}
	return a.st.ID < b.st.ID
}

// ranking returns the order of a sort key: before(a, b) when a comes
// first.
func ranking(k SortKey) (func(a, b *item) bool, error) {
	desc := func(f func(*item) uint64) func(a, b *item) bool {
		return func(a, b *item) bool {
			if x, y := f(a), f(b); x != y {
				return x > y
			}
			return byID(a, b)
		}
	}
	switch k {
	case SortBytes:
		return desc(func(i *item) uint64 { return i.st.BytesIn + i.st.BytesOut }), nil
	case SortBytesIn:
		return desc(func(i *item) uint64 { return i.st.BytesIn }), nil
	case SortBytesOut:
		return desc(func(i *item) uint64 { return i.st.BytesOut }), nil
	case SortMailbox:
		return desc(func(i *item) uint64 { return uint64(max(i.st.Mailbox, 0)) }), nil
	case SortAge:
		return func(a, b *item) bool {
			if c := a.st.Started.Compare(b.st.Started); c != 0 {
				return c < 0
			}
			return byID(a, b)
		}, nil
	case SortIdle:
		return func(a, b *item) bool {
			if c := a.st.LastFrame.Compare(b.st.LastFrame); c != 0 {
				return c < 0
			}
			return byID(a, b)
		}, nil
	case SortID:
		return byID, nil
	}
	return nil, fmt.Errorf("%w: sort key %d", ErrInvalid, k)
}

// wants reports whether connections of this owner and kind can match
// (to skip whole sources).
func (s *selector) wants(owner string, kind Kind) bool {
	return (s.f.kind == KindAny || s.f.kind == kind) && (s.f.owner == "" || owner == "" || s.f.owner == owner)
}

// full reports whether the filter needs what a lean walk leaves out
// (Server.EachConnStats): the peer, from the registry. The start and the
// mailbox are read in every walk.
func (s *selector) full() bool { return s.f.prefix != nil || s.f.cidr.IsValid() }

// match reports whether st passes the filter.
func (s *selector) match(st *actors.ConnStats) bool {
	if s.f.owner != "" && st.Owner != s.f.owner {
		return false
	}
	if s.f.state != "" && st.State != s.f.state {
		return false
	}
	if st.BytesIn+st.BytesOut < s.f.minBytes {
		return false
	}
	if s.f.prefix == nil && !s.f.cidr.IsValid() {
		return true
	}
	var ap netip.AddrPort
	switch a := st.Peer.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case nil:
		return false
	default:
		return s.f.prefix != nil && strings.HasPrefix(a.String(), string(s.f.prefix))
	}
	if s.f.cidr.IsValid() {
		return s.f.cidr.Contains(ap.Addr())
	}
	s.buf = ap.AppendTo(s.buf[:0])
	return bytes.HasPrefix(s.buf, s.f.prefix)
}

// offer considers one connection.
func (s *selector) offer(st *actors.ConnStats, kind Kind) {
	s.total++
	if !s.match(st) {
		return
	}
	s.matched++
	if len(s.heap) < s.limit {
		s.heap = append(s.heap, item{st: *st, kind: kind})
		s.up(len(s.heap) - 1)
		return
	}
	s.cand = item{st: *st, kind: kind}
	if !s.before(&s.cand, &s.heap[0]) {
		return
	}
	s.heap[0] = s.cand
	s.down(0)
}

// The heap keeps the item that ranks last at the root.
func (s *selector) worse(i, j int) bool { return s.before(&s.heap[j], &s.heap[i]) }

func (s *selector) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.worse(i, p) {
			return
		}
		s.heap[i], s.heap[p] = s.heap[p], s.heap[i]
		i = p
	}
}

func (s *selector) down(i int) {
	n := len(s.heap)
	for {
		w := i
		if l := 2*i + 1; l < n && s.worse(l, w) {
			w = l
		}
		if r := 2*i + 2; r < n && s.worse(r, w) {
			w = r
		}
		if w == i {
			return
		}
		s.heap[i], s.heap[w] = s.heap[w], s.heap[i]
		i = w
	}
}

// result returns the kept connections, in order.
func (s *selector) result() []item {
	out := s.heap
	slices.SortFunc(out, func(a, b item) int {
		switch {
		case s.before(&a, &b):
			return -1
		case s.before(&b, &a):
			return 1
		}
		return cmp.Compare(a.st.ID, b.st.ID)
	})
	return out
}
