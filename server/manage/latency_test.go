package manage_test

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server/manage"
)

// Listing the top 100 connections of a node in another process, by
// bytes, over loopback: the whole request, from this node's Conns to the
// reply. ETCP_MANAGE_LATENCY_CONNS sets how many connections the node
// holds (default 2,000; the package doc's figures were measured with
// 19,000, without the race detector); a third process holds their peers.
func TestListLatency(t *testing.T) {
	if operate(t) {
		return
	}
	n := 2000
	if s := os.Getenv("ETCP_MANAGE_LATENCY_CONNS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	e := newEnv(t)
	ch := startChild(t, envActions+"=1")
	c := e.dial(ch)
	ctx := ctxT(t)
	require.NoError(t, c.SetMaxConnections(ctx, "srv", 0))
	// The peers are held by another process: each process may have
	// 20,000 descriptors open here.
	peers := startChild(t)
	peers.do("open %d %s", n, ch.Srv)
	require.Eventually(t, func() bool {
		s, err := c.Servers(ctx)
		return err == nil && s[0].Active == n+2
	}, 2*wait, 10*time.Millisecond)
	// Accepted is not yet up: wait until every connection's Init has run.
	require.Eventually(t, func() bool {
		l, err := c.Conns(ctx, manage.Query{Limit: 1})
		return err == nil && l.Total == n+4
	}, 2*wait, 10*time.Millisecond)

	const rounds = 30
	for _, q := range []manage.Query{
		{Limit: 100},                           // by bytes: a lean walk
		{Limit: 100, Sort: manage.SortAge},     // the start: a column of every walk
		{Limit: 100, PeerPrefix: "127.0.0.1:"}, // the peer: a column of every walk
		{Limit: 100, Kind: manage.KindClient},  // the registry's client owners only
	} {
		times := make([]time.Duration, rounds)
		for i := range times {
			start := time.Now()
			l, err := c.Conns(ctx, q)
			times[i] = time.Since(start)
			require.NoError(t, err)
			if q.Kind == manage.KindClient {
				require.Len(t, l.Conns, 1)
				continue
			}
			require.Len(t, l.Conns, 100)
			assert.Equal(t, n+4, l.Total, "the peers, and the pool's and the client's both ends")
		}
		slices.Sort(times)
		t.Logf("%+v of %d connections: min %v, median %v, max %v", q, n+4, times[0], times[rounds/2], times[rounds-1])
		assert.Less(t, times[rounds/2], time.Second)
	}
}
