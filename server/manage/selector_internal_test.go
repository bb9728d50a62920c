package manage

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// synthetic makes n connection statistics: owners srv-0..3, peers
// 10.x.y.z:port, random traffic, ages, mailboxes and states.
func synthetic(n int, seed uint64) []actors.ConnStats {
	r := rand.New(rand.NewPCG(seed, 1))
	now := time.Now()
	states := []string{"up", "up", "up", "hibernated", "passivated"}
	out := make([]actors.ConnStats, n)
	for i := range out {
		started := now.Add(-time.Duration(r.IntN(3600)) * time.Second)
		out[i] = actors.ConnStats{ID: uint64(i + 1), PID: actor.NewPID("127.0.0.1:1", fmt.Sprintf("etcp/srv/conns-1/c%d", i+1)),
			Owner:     fmt.Sprintf("srv-%d", i%4),
			Local:     &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7000},
			Peer:      &net.TCPAddr{IP: net.IPv4(10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))), Port: 1024 + r.IntN(60000)},
			Transport: "tcp", State: states[r.IntN(len(states))], Started: started,
			LastFrame: started.Add(time.Duration(r.IntN(1000)) * time.Millisecond),
			BytesIn:   uint64(r.IntN(1 << 20)), BytesOut: uint64(r.IntN(1 << 20)),
			FramesIn: uint64(r.IntN(1000)), FramesOut: uint64(r.IntN(1000)), Mailbox: r.IntN(3)}
	}
	return out
}

func selectAll(t testing.TB, q Query, stats []actors.ConnStats) *selector {
	sel, err := newSelector(q)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stats {
		sel.offer(&stats[i], KindServer)
	}
	return sel
}

// The heap selection gives what filtering everything and sorting it
// gives, for every key and filter.
func TestSelectorAgreesWithSort(t *testing.T) {
	stats := synthetic(5000, 7)
	queries := []Query{
		{},
		{Limit: 1},
		{Limit: 7000},
		{Owner: "srv-2", Limit: 50},
		{State: "passivated"},
		{MinBytes: 1 << 20},
		{PeerPrefix: "10.1."},
		{PeerPrefix: "10.2.0.0/16"},
		{PeerPrefix: "10.3.7"},
		{Kind: KindPool},
	}
	for k := SortBytes; k <= SortID; k++ {
		for _, q := range queries {
			q.Sort = k
			sel := selectAll(t, q, stats)
			got := sel.result()
			var want []item
			for i := range stats {
				if sel.match(&stats[i]) && (q.Kind == KindAny || q.Kind == KindServer) {
					want = append(want, item{st: stats[i], kind: KindServer})
				}
			}
			if q.Kind == KindPool {
				want = nil // a selector is not offered what it does not want; here it was
				got = nil
			}
			slices.SortFunc(want, func(a, b item) int {
				if sel.before(&a, &b) {
					return -1
				}
				return 1
			})
			limit := q.Limit
			if limit == 0 {
				limit = DefaultLimit
			}
			want = want[:min(len(want), limit)]
			if len(got) != len(want) {
				t.Fatalf("%v %+v: %d kept, want %d", k, q, len(got), len(want))
			}
			for i := range got {
				if got[i].st.ID != want[i].st.ID {
					t.Fatalf("%v %+v: #%d is %d, want %d", k, q, i, got[i].st.ID, want[i].st.ID)
				}
			}
			if q.Kind != KindPool && sel.total != len(stats) {
				t.Fatalf("total %d", sel.total)
			}
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]ConnRef{
		"echo/42":               {Owner: "echo", ID: 42},
		"a/b/7":                 {Owner: "a/b", ID: 7},
		"etcp/echo/conns-3/c42": {PID: "etcp/echo/conns-3/c42"},
		"conn-5":                {PID: "conn-5"},
		"name:device-42":        {Name: "device-42"},
	} {
		got, err := ParseConnRef(in)
		if err != nil || got != want {
			t.Errorf("ParseConnRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), in)
		}
	}
	if _, err := ParseConnRef(""); err == nil {
		t.Error("an empty reference parsed")
	}
	for k := SortBytes; k <= SortID; k++ {
		if got, err := ParseSortKey(k.String()); err != nil || got != k {
			t.Errorf("ParseSortKey(%q) = %v, %v", k, got, err)
		}
	}
	for k := KindAny; k <= KindClient; k++ {
		b, _ := json.Marshal(struct{ K Kind }{k})
		var back struct{ K Kind }
		if err := json.Unmarshal(b, &back); err != nil || back.K != k {
			t.Errorf("%s: %v, %v", b, back.K, err)
		}
	}
	if _, err := ParseSortKey("size"); err == nil {
		t.Error("an unknown key parsed")
	}
	for k := KindAny; k <= KindClient; k++ {
		if got, err := ParseKind(k.String()); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, err)
		}
	}
}

// The filter and top-N path of a listing over 100,000 connections, and
// the reply that travels: what an endpoint does beside reading the
// statistics (Server.ConnStats).
func BenchmarkTop100Of100k(b *testing.B) {
	stats := synthetic(100_000, 1)
	for _, q := range []Query{
		{Limit: 100},
		{Limit: 100, Sort: SortAge},
		{Limit: 100, PeerPrefix: "10.1."},
		{Limit: 100, PeerPrefix: "10.1.0.0/16"},
		{Limit: 100, State: "up", MinBytes: 1 << 19},
	} {
		b.Run(fmt.Sprintf("sort=%v,peer=%q,state=%q", q.Sort, q.PeerPrefix, q.State), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				sel := selectAll(b, q, stats)
				out := &managepb.ConnList{Total: uint64(sel.total), Matched: uint64(sel.matched)}
				for _, it := range sel.result() {
					out.Conns = append(out.Conns, connPB("127.0.0.1:1", &it.st, it.kind))
				}
				buf, err := proto.Marshal(out)
				if err != nil {
					b.Fatal(err)
				}
				size = len(buf)
			}
			b.ReportMetric(float64(size), "reply-bytes")
		})
	}
}
