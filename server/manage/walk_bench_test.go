package manage

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// BenchmarkWalk prices a listing per connection on a real server: the
// walk (Server.EachConnStats), the filter and the top-100 heap, by each
// column a listing sorts or filters by. Its metric ms/100k is that cost
// scaled to 100,000 connections: a process may open 20,000 descriptors
// here, so ETCP_MANAGE_BENCH_CONNS connections (default 5,000) are
// served, their peers held in the same process.
func BenchmarkWalk(b *testing.B) {
	n := 5000
	if s := os.Getenv("ETCP_MANAGE_BENCH_CONNS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	sys := actors.NewSystem(nil, actor.WithDeadLetterThrottleInterval(time.Millisecond))
	defer sys.Shutdown()
	srv, err := server.Start(sys, testkit.NewEcho, nil, "127.0.0.1:0", server.WithMaxConnections(server.NoLimit))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = srv.Stop(ctx, nil)
	}()
	for range n {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if cs, err := srv.Connections(); err == nil && len(cs) == n {
			break // every Init ran: each is registered
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d connections did not come up", n)
		}
	}
	// A full walk reads the registry's fields of every connection: what
	// sorting by age or mailbox did before those were read in every walk,
	// and what filtering by peer still does.
	b.Run("full-walk", func(b *testing.B) {
		for b.Loop() {
			srv.EachConnStats(true, func(*actors.ConnStats) bool { return true })
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)*100_000/1e6, "ms/100k")
	})
	for _, q := range []Query{
		{Limit: 100},
		{Limit: 100, Sort: SortAge},
		{Limit: 100, Sort: SortIdle},
		{Limit: 100, Sort: SortMailbox},
		{Limit: 100, PeerPrefix: "127.0.0.1:"},
		{Limit: 100, PeerPrefix: "127.0.0.0/8"},
		{Limit: 100, State: "up", MinBytes: 1},
	} {
		b.Run(fmt.Sprintf("sort=%v,peer=%q,state=%q", q.Sort, q.PeerPrefix, q.State), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sel, err := newSelector(q)
				if err != nil {
					b.Fatal(err)
				}
				srv.EachConnStats(sel.full(), func(st *actors.ConnStats) bool { sel.offer(st, KindServer); return true })
				if q.MinBytes == 0 && len(sel.result()) != 100 {
					b.Fatalf("kept %d", len(sel.heap))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)*100_000/1e6, "ms/100k")
		})
	}
}
