package faults_test

import (
	"net"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// Issue 19: the accepted connections spread evenly over the connection
// supervisors, whichever acceptor accepted them (Go serialises Accept on
// one listening socket, so one acceptor may take a whole burst), and
// stopping one supervisor ends only its share.
func TestConnectionsSpreadOverSupervisors(t *testing.T) {
	const n, sups = 100, server.DefaultAcceptors
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", newHandler, p)
	clients := dialEchoers(t, srv.Addr().String(), n)
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == n }, testkit.Wait, tick)

	byPort := map[int]net.Conn{}
	for _, c := range clients {
		byPort[c.LocalAddr().(*net.TCPAddr).Port] = c
	}
	under := map[string]echoers{}
	for _, ci := range testkit.Conns(t, srv) {
		c := byPort[ci.Peer.(*net.TCPAddr).Port]
		require.NotNil(t, c)
		sup := connsSupOf(ci.PID)
		under[sup] = append(under[sup], c)
	}
	require.Len(t, sizes(under), sups, "every supervisor holds connections")
	for sup, cs := range under {
		require.LessOrEqual(t, len(cs), 2*n/sups, "%s holds at most twice its share: %v", sup, sizes(under))
	}

	// Stopping the busiest supervisor ends its share only.
	doomedSup := "conns-1"
	for sup, cs := range under {
		if len(cs) > len(under[doomedSup]) {
			doomedSup = sup
		}
	}
	doomed := under[doomedSup]
	stopPrompt(t, sys, actor.NewPID(sys.Address(), srv.PID().Id+"/"+doomedSup))
	p.awaitTerms(t, int64(len(doomed)))
	for _, c := range doomed {
		_, err := c.Read(make([]byte, 1))
		require.Error(t, err, "a connection of %s ended", doomedSup)
	}
	var spared echoers
	for sup, cs := range under {
		if sup != doomedSup {
			spared = append(spared, cs...)
		}
	}
	spared.check(t, 1)
	require.Eventually(t, func() bool { return srv.Info().Active == len(spared) }, testkit.Wait, tick)
	require.Greater(t, len(spared), n/2, "most connections outlive one supervisor")
}

// sizes is how many connections each supervisor holds, for messages.
func sizes(under map[string]echoers) map[string]int {
	out := map[string]int{}
	for sup, cs := range under {
		out[sup] = len(cs)
	}
	return out
}
