package manage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server/manage"
)

// Every verb against a node in another process, with actions allowed.
func TestVerbs(t *testing.T) {
	if operate(t) {
		return
	}
	e := newEnv(t)
	ch := startChild(t, envActions+"=1")
	c := e.dial(ch)
	ctx := ctxT(t)

	h := c.Hello()
	assert.Equal(t, manage.Protocol, h.Protocol)
	assert.Equal(t, ch.Node, h.Node)
	assert.True(t, h.Actions)
	assert.False(t, h.MutualTLS)
	assert.Equal(t, []string{"srv", "spare"}, h.Servers)
	assert.Equal(t, []string{"pl"}, h.Pools)

	// Three peers of srv, sending 1, 2 and 3 lines; srv also holds the
	// pool's and the client's connections.
	peers := make([]*peer, 3)
	for i := range peers {
		peers[i] = dialPeer(t, ch.Srv)
		for range i + 1 {
			peers[i].say(t, "line")
		}
	}

	t.Run("servers", func(t *testing.T) {
		servers, err := c.Servers(ctx)
		require.NoError(t, err)
		require.Len(t, servers, 2)
		s := servers[0]
		assert.Equal(t, "srv", s.Name)
		assert.Equal(t, ch.Node, s.Node)
		assert.Equal(t, ch.Srv, s.Addr)
		assert.Equal(t, "accepting", s.Mode)
		assert.True(t, s.Uniform)
		assert.Equal(t, 5, s.Active)
		assert.Equal(t, int64(5), s.Accepted)
		assert.Equal(t, 1024, s.MaxConnections)
		assert.Equal(t, 10, s.Acceptors)
		assert.Equal(t, 5, s.Conns.Up)
		assert.Equal(t, "spare", servers[1].Name)
		assert.Equal(t, 2, servers[1].Acceptors)
	})

	t.Run("acceptors", func(t *testing.T) {
		as, err := c.Acceptors(ctx, "spare")
		require.NoError(t, err)
		require.Len(t, as, 2)
		for i, a := range as {
			assert.Equal(t, i+1, a.ID)
			assert.Equal(t, "accepting", a.Mode)
			assert.Zero(t, a.Restarts)
			assert.Contains(t, a.PID, "acceptor-")
		}
		_, err = c.Acceptors(ctx, "nope")
		assert.ErrorIs(t, err, manage.ErrNotFound)
		// The prefix and the node are said once (the endpoint's message
		// has the prefix too).
		if assert.Error(t, err) {
			assert.Equal(t, `etcp/manage: `+c.Addr()+`: not found: no server "nope"`, err.Error())
		}
	})

	t.Run("pools", func(t *testing.T) {
		pools, err := c.Pools(ctx)
		require.NoError(t, err)
		require.Len(t, pools, 1)
		p := pools[0]
		assert.Equal(t, "pl", p.Name)
		assert.Equal(t, 1, p.Live)
		require.Len(t, p.Connections, 1)
		assert.Equal(t, "up", p.Connections[0].State)
		assert.Equal(t, ch.Srv, p.Connections[0].Addr)
		assert.NotEmpty(t, p.Connections[0].PID)
	})

	t.Run("clients", func(t *testing.T) {
		cs, err := c.Clients(ctx)
		require.NoError(t, err)
		require.Len(t, cs, 1, "%+v", cs)
		assert.Equal(t, "cli", cs[0].Owner)
		assert.Equal(t, manage.KindClient, cs[0].Kind)
		assert.Equal(t, ch.Srv, cs[0].Peer)
	})

	t.Run("conns", func(t *testing.T) {
		// A reply is counted once its write returns, which may be after
		// the peer read it: wait until the counts are settled.
		want := uint64(len("hello\n") + 3*len("echo: line\n"))
		var all manage.ConnList
		require.Eventually(t, func() bool {
			var err error
			all, err = c.Conns(ctx, manage.Query{})
			return err == nil && len(all.Conns) > 0 && all.Conns[0].BytesOut == want
		}, 5*time.Second, 5*time.Millisecond)
		assert.Equal(t, 7, all.Total, "5 of srv, the pool's and the client's")
		assert.Equal(t, 7, all.Matched)
		require.Len(t, all.Conns, 7)
		for i := 1; i < len(all.Conns); i++ {
			a, b := all.Conns[i-1], all.Conns[i]
			assert.GreaterOrEqual(t, a.BytesIn+a.BytesOut, b.BytesIn+b.BytesOut, "sorted by bytes")
		}
		top := all.Conns[0]
		assert.Equal(t, "srv", top.Owner)
		assert.Equal(t, manage.KindServer, top.Kind)
		assert.Equal(t, peers[2].LocalAddr().String(), top.Peer, "the peer that sent most")
		assert.Equal(t, uint64(3*len("line\n")), top.BytesIn)
		assert.Equal(t, want, top.BytesOut)
		assert.Equal(t, uint64(3), top.FramesIn)
		assert.Equal(t, uint64(4), top.FramesOut)
		assert.Equal(t, "up", top.State)
		assert.Equal(t, "active", top.Mode())
		assert.Equal(t, "tcp", top.Transport)
		assert.Equal(t, ch.Node, top.Node)
		assert.Less(t, top.Age(), time.Minute)
		assert.Contains(t, top.PID, "etcp/srv/")

		two, err := c.Conns(ctx, manage.Query{Owner: "srv", Limit: 2})
		require.NoError(t, err)
		assert.Equal(t, 5, two.Matched)
		require.Len(t, two.Conns, 2)
		assert.Equal(t, top.PID, two.Conns[0].PID)

		byPeer, err := c.Conns(ctx, manage.Query{PeerPrefix: peers[1].LocalAddr().String()})
		require.NoError(t, err)
		require.Len(t, byPeer.Conns, 1)
		assert.Equal(t, uint64(2), byPeer.Conns[0].FramesIn)

		cidr, err := c.Conns(ctx, manage.Query{PeerPrefix: "127.0.0.0/8"})
		require.NoError(t, err)
		assert.Equal(t, 7, cidr.Matched)
		none, err := c.Conns(ctx, manage.Query{PeerPrefix: "10.0.0.0/8"})
		require.NoError(t, err)
		assert.Zero(t, none.Matched)

		big, err := c.Conns(ctx, manage.Query{MinBytes: uint64(2*len("line\n") + len("hello\n") + 2*len("echo: line\n"))})
		require.NoError(t, err)
		assert.Equal(t, 2, big.Matched, "the peers that sent 2 and 3 lines")

		pooled, err := c.Conns(ctx, manage.Query{Kind: manage.KindPool})
		require.NoError(t, err)
		require.Len(t, pooled.Conns, 1)
		assert.Equal(t, "pl", pooled.Conns[0].Owner)

		oldest, err := c.Conns(ctx, manage.Query{Owner: "srv", Sort: manage.SortAge})
		require.NoError(t, err)
		for i := 1; i < len(oldest.Conns); i++ {
			assert.False(t, oldest.Conns[i].Started.Before(oldest.Conns[i-1].Started), "oldest first")
		}
		byID, err := c.Conns(ctx, manage.Query{Owner: "srv", Sort: manage.SortID})
		require.NoError(t, err)
		for i := 1; i < len(byID.Conns); i++ {
			assert.Less(t, byID.Conns[i-1].ID, byID.Conns[i].ID)
		}
		for _, k := range []manage.SortKey{manage.SortBytesIn, manage.SortBytesOut, manage.SortMailbox, manage.SortIdle} {
			l, err := c.Conns(ctx, manage.Query{Sort: k})
			require.NoError(t, err, k.String())
			assert.Len(t, l.Conns, 7, k.String())
		}

		_, err = c.Conns(ctx, manage.Query{State: "asleep"})
		assert.ErrorIs(t, err, manage.ErrInvalid)
		_, err = c.Conns(ctx, manage.Query{PeerPrefix: "1.2.3.4/99"})
		assert.ErrorIs(t, err, manage.ErrInvalid)
	})

	target := refOf(t, c, "srv", peers[1])

	t.Run("inspect", func(t *testing.T) {
		for _, ref := range []manage.ConnRef{target.Ref(), {Owner: "srv", ID: target.ID}} {
			d, err := c.Inspect(ctx, ref)
			require.NoError(t, err, ref.String())
			assert.Equal(t, target.PID, d.Conn.PID)
			assert.Equal(t, "{Lines:2 Calls:0}", d.State)
			assert.Equal(t, "manage_test.servedState", d.StateType)
			assert.Empty(t, d.StateError)
			assert.False(t, d.Tracing)
		}
		cli, err := c.Inspect(ctx, manage.ConnRef{Name: "cli"})
		require.NoError(t, err)
		assert.Equal(t, "cli", cli.Conn.Owner)
		assert.Equal(t, "manage_test.dialled", strings.TrimPrefix(cli.StateType, "*"))

		for _, ref := range []manage.ConnRef{{PID: "etcp/srv/conns-1/c999"}, {Owner: "srv", ID: 999}, {Name: "nobody"}, {Owner: "nope", ID: 1}} {
			_, err := c.Inspect(ctx, ref)
			assert.ErrorIs(t, err, manage.ErrNotFound, ref.String())
		}
		_, err = c.Inspect(ctx, manage.ConnRef{})
		assert.ErrorIs(t, err, manage.ErrInvalid)
	})

	t.Run("call", func(t *testing.T) {
		r, err := c.Call(ctx, target.Ref(), "ping")
		require.NoError(t, err)
		assert.Equal(t, "string:ping", r.Value)
		assert.Equal(t, "string", r.Type)
		r, err = c.Call(ctx, target.Ref(), []byte("ping"))
		require.NoError(t, err)
		assert.Equal(t, "[]uint8:ping", r.Value, "a []byte arrives as such")
		r, err = c.Call(ctx, target.Ref(), "bytes")
		require.NoError(t, err)
		assert.Equal(t, []byte{0, 1, 2}, r.Value)
		r, err = c.Call(ctx, target.Ref(), "struct")
		require.NoError(t, err)
		assert.Equal(t, "{Lines:7 Calls:0}", r.Value)
		assert.Equal(t, "manage_test.servedState", r.Type)
		_, err = c.Call(ctx, target.Ref(), "err")
		assert.EqualError(t, err, "bad request")
		_, err = c.Call(ctx, target.Ref(), 42)
		assert.ErrorIs(t, err, manage.ErrInvalid)
		d, err := c.Inspect(ctx, target.Ref())
		require.NoError(t, err)
		assert.Equal(t, "{Lines:2 Calls:5}", d.State)
	})

	t.Run("cast", func(t *testing.T) {
		require.NoError(t, c.Cast(ctx, target.Ref(), "note"))
		require.NoError(t, c.Cast(ctx, target.Ref(), []byte("raw")))
		require.Eventually(t, func() bool {
			got := ch.do("casts")
			return strings.Contains(got, ":string:note") && strings.Contains(got, ":[]uint8:raw")
		}, wait, 5*time.Millisecond)
	})

	t.Run("hibernate and wake", func(t *testing.T) {
		require.NoError(t, c.Hibernate(ctx, target.Ref()))
		require.Eventually(t, func() bool {
			l, err := c.Conns(ctx, manage.Query{State: "passivated"})
			return err == nil && len(l.Conns) == 1 && l.Conns[0].PID == target.PID
		}, wait, 5*time.Millisecond)
		servers, err := c.Servers(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, servers[0].Conns.Passivated)
		require.NoError(t, c.Wake(ctx, target.Ref()))
		d, err := c.Inspect(ctx, target.Ref())
		require.NoError(t, err)
		assert.Equal(t, "up", d.Conn.State)
		peers[1].say(t, "awake")
	})

	t.Run("trace", func(t *testing.T) {
		tr, err := c.Trace(ctx, target.Ref(), 0)
		require.NoError(t, err)
		peers[1].say(t, "traced")
		kinds := map[string]bool{}
		for !kinds["packet-out"] {
			ev, err := tr.Next(ctx)
			require.NoError(t, err)
			kinds[ev.Kind] = true
			if ev.Kind == "packet-in" {
				assert.Equal(t, "traced", string(ev.Data))
				assert.Equal(t, 6, ev.DataLen)
				assert.Equal(t, target.ID, ev.Conn)
			}
		}
		assert.True(t, kinds["packet-in"])
		d, err := c.Inspect(ctx, target.Ref())
		require.NoError(t, err)
		assert.True(t, d.Tracing)
		assert.NotEmpty(t, d.Trace)
		require.NoError(t, tr.Close(ctx))
		_, err = tr.Next(ctx)
		assert.ErrorIs(t, err, manage.ErrEnded)
		d, err = c.Inspect(ctx, target.Ref())
		require.NoError(t, err)
		assert.False(t, d.Tracing, "nothing wants the trace")

		// A stream of at most 2 events ends by itself.
		tr, err = c.Trace(ctx, target.Ref(), 2)
		require.NoError(t, err)
		peers[1].say(t, "again")
		for range 2 {
			_, err := tr.Next(ctx)
			require.NoError(t, err)
		}
		_, err = tr.Next(ctx)
		assert.ErrorIs(t, err, manage.ErrEnded)
		require.NoError(t, tr.Close(ctx))

		// Tracing kept for Inspect, without a stream.
		require.NoError(t, c.SetTracing(ctx, target.Ref(), true))
		peers[1].say(t, "kept")
		d, err = c.Inspect(ctx, target.Ref())
		require.NoError(t, err)
		assert.True(t, d.Tracing)
		found := false
		for _, ev := range d.Trace {
			found = found || (ev.Kind == "packet-in" && string(ev.Data) == "kept")
		}
		assert.True(t, found, "%v", d.Trace)
		require.NoError(t, c.SetTracing(ctx, target.Ref(), false))
		d, err = c.Inspect(ctx, target.Ref())
		require.NoError(t, err)
		assert.False(t, d.Tracing)
	})

	t.Run("stop", func(t *testing.T) {
		// A stream of a connection that ends ends too.
		tr, err := c.Trace(ctx, target.Ref(), 0)
		require.NoError(t, err)
		require.NoError(t, c.Stop(ctx, target.Ref(), "bye now"))
		peers[1].closed(t)
		assert.Contains(t, ch.do("terminated"), "bye now")
		for {
			_, err := tr.Next(ctx)
			if err != nil {
				assert.ErrorIs(t, err, manage.ErrEnded)
				break
			}
		}
		require.NoError(t, tr.Close(ctx))
		_, err = c.Inspect(ctx, target.Ref())
		assert.ErrorIs(t, err, manage.ErrNotFound)
		assert.ErrorIs(t, c.Stop(ctx, target.Ref(), ""), manage.ErrNotFound)
	})

	t.Run("sleep, wake and limit", func(t *testing.T) {
		require.NoError(t, c.SleepServer(ctx, "srv"))
		servers, err := c.Servers(ctx)
		require.NoError(t, err)
		assert.Equal(t, "sleeping", servers[0].Mode)
		accepted := servers[0].Accepted
		// A new peer connects (the backlog holds it) but is not accepted:
		// no greeting, and the server's count does not move.
		late := dialRaw(t, ch.Srv)
		require.NoError(t, late.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
		_, err = late.r.ReadString('\n')
		require.True(t, isTimeout(err), "%v", err)
		servers, err = c.Servers(ctx)
		require.NoError(t, err)
		assert.Equal(t, accepted, servers[0].Accepted)
		require.NoError(t, c.WakeServer(ctx, "srv"))
		assert.Equal(t, "hello", late.line(t))

		require.NoError(t, c.SetMaxConnections(ctx, "srv", 3))
		servers, err = c.Servers(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, servers[0].MaxConnections)
		assert.ErrorIs(t, c.SetMaxConnections(ctx, "srv", -1), manage.ErrInvalid)
		require.NoError(t, c.SetMaxConnections(ctx, "srv", 0))
		assert.ErrorIs(t, c.SleepServer(ctx, "nope"), manage.ErrNotFound)
	})

	t.Run("drain", func(t *testing.T) {
		// The peers close one by one; the pool's and the client's
		// connections stay, so the grace passes and they are stopped.
		var reports []manage.DrainProgress
		go func() {
			for _, p := range []*peer{peers[0], peers[2]} {
				p.Close()
			}
		}()
		final, err := c.Drain(ctx, "srv", 500*time.Millisecond, func(p manage.DrainProgress) { reports = append(reports, p) })
		require.NoError(t, err)
		assert.True(t, final.Done)
		assert.True(t, final.Forced)
		assert.Zero(t, final.Active)
		assert.GreaterOrEqual(t, final.Elapsed, 500*time.Millisecond)
		require.NotEmpty(t, reports)
		assert.Equal(t, final, reports[len(reports)-1])
		assert.Greater(t, reports[0].Active, 0)
		servers, err := c.Servers(ctx)
		require.NoError(t, err)
		assert.Equal(t, "closed", servers[0].Mode)
		assert.Contains(t, servers[0].Err, "closed")
	})

	t.Run("stop server", func(t *testing.T) {
		p := dialPeer(t, ch.Spare)
		require.NoError(t, c.StopServer(ctx, "spare", "maintenance"))
		p.closed(t)
		assert.Contains(t, ch.do("terminated"), ":maintenance")
		servers, err := c.Servers(ctx)
		require.NoError(t, err)
		assert.Equal(t, "closed", servers[1].Mode)
	})
}
