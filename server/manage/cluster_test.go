package manage_test

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server/manage"
)

// Cluster-wide lists: one call to one node's endpoint answers for every
// node of its cluster registry; a node without an endpoint is named in
// the error, and the others still answer.
func TestClusterWide(t *testing.T) {
	if operate(t) {
		return
	}
	e := newEnv(t)
	a := startChild(t, envCluster+"=1", envPrefix+"=a-")
	b := startChild(t, envCluster+"=1", envPeers+"="+a.Node, envPrefix+"=b-")
	off := startChild(t, envCluster+"=1", envPeers+"="+a.Node, envEndpoint+"=0", envPrefix+"=c-")
	c := e.dial(a)
	assert.True(t, c.Hello().Cluster)
	ctx := ctxT(t)

	var servers []manage.Server
	var cerr *manage.ClusterError
	require.Eventually(t, func() bool {
		var err error
		servers, err = c.ClusterServers(ctx)
		return errors.As(err, &cerr) && len(servers) == 4 && len(cerr.Nodes) == 1
	}, wait, 10*time.Millisecond, "A hears of B and the node without an endpoint")
	nodes := map[string]int{}
	for _, s := range servers {
		nodes[s.Node]++
	}
	assert.Equal(t, map[string]int{a.Node: 2, b.Node: 2}, nodes)
	assert.Equal(t, off.Node, cerr.Nodes[0].Node)
	assert.Contains(t, cerr.Nodes[0].Err, "no management endpoint")

	pools, err := c.ClusterPools(ctx)
	require.ErrorAs(t, err, &cerr)
	require.Len(t, pools, 2)

	// Peers on A and B; B's send the most.
	for i, node := range []*child{a, b} {
		for range 2 {
			p := dialPeer(t, node.Srv)
			for range 1 + 3*i {
				p.say(t, "traffic")
			}
		}
	}
	l, err := c.ClusterConns(ctx, manage.Query{Kind: manage.KindServer, Limit: 3})
	require.ErrorAs(t, err, &cerr)
	assert.Equal(t, 8, l.Total, "4 peers, 2 pool and 2 client connections on srv, on two nodes")
	assert.Equal(t, 8, l.Matched)
	require.Len(t, l.Conns, 3)
	assert.Equal(t, b.Node, l.Conns[0].Node)
	assert.Equal(t, b.Node, l.Conns[1].Node)
	for i := 1; i < len(l.Conns); i++ {
		assert.GreaterOrEqual(t, l.Conns[i-1].BytesIn+l.Conns[i-1].BytesOut, l.Conns[i].BytesIn+l.Conns[i].BytesOut)
	}
	local, err := c.Conns(ctx, manage.Query{Kind: manage.KindServer})
	require.NoError(t, err)
	assert.Equal(t, 4, local.Total, "the node's own")

	clients, err := c.ClusterConns(ctx, manage.Query{Kind: manage.KindClient, Sort: manage.SortID})
	require.ErrorAs(t, err, &cerr)
	owners := []string{}
	for _, cc := range clients.Conns {
		owners = append(owners, cc.Owner+"@"+cc.Node)
	}
	sort.Strings(owners)
	assert.Equal(t, []string{"a-cli@" + a.Node, "b-cli@" + b.Node}, owners)
	assert.True(t, strings.Contains(cerr.Error(), off.Node))
}
