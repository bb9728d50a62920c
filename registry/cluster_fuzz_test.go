package registry

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/registry/internal/registrypb"
)

// The registry actor's message handling driven without a network: a
// Cluster and its actor built by hand on an actor system without remote
// (what they send goes to dead letters), fed the messages a peer could
// send, with the sender a peer's transport would give them.

const (
	fuzzSelf  = "127.0.0.1:1"
	fuzzPeer  = "127.0.0.1:2"
	fuzzEpoch = 42
)

// newTestCluster returns a cluster at fuzzSelf holding one name of its
// own, whose actor has brought fuzzPeer up and synced it.
func newTestCluster(t testing.TB, log *slog.Logger) (*Cluster, *clusterActor) {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond),
	)
	c := &Cluster{
		sys: sys, log: log, self: fuzzSelf, epoch: 1, id: "etcp.registry." + DefaultScope,
		cfg:   clusterConfig{scope: DefaultScope, interval: DefaultHeartbeat, timeout: DefaultHeartbeatTimeout},
		greet: make(chan greeting, maxCandidates),
	}
	c.s.init()
	a := &clusterActor{c: c, members: make(map[string]*member), self: actor.NewPID(fuzzSelf, c.id)}
	c.pid = a.self
	require.NoError(t, c.Register("own", actor.NewPID(fuzzSelf, "o"), Meta{Owner: "srv"}))
	a.fromPeer(peerPID(), &registrypb.Hello{Protocol: protocolVersion, Node: fuzzPeer, Epoch: fuzzEpoch})
	a.fromPeer(peerPID(), &registrypb.Snapshot{Node: fuzzPeer, Epoch: fuzzEpoch, Last: true, Entries: []*registrypb.Entry{
		{Name: "peer-name", PidId: "p", Owner: "srv", Peer: "10.0.0.1:5", RegisteredUnixNano: time.Now().UnixNano(), Version: 1},
	}})
	require.Equal(t, uint64(0), c.Stats().Refused())
	require.True(t, a.members[fuzzPeer].live())
	return c, a
}

// peerPID is a sender on fuzzPeer, as the transport delivers it.
func peerPID() *actor.PID { return actor.NewPID(fuzzPeer, "etcp.registry."+DefaultScope) }

// speakFor makes msg speak for node, in its incarnation epoch.
func speakFor(msg proto.Message, node string, epoch uint64) {
	switch m := msg.(type) {
	case *registrypb.Hello:
		m.Node, m.Epoch = node, epoch
	case *registrypb.Heartbeat:
		m.Node, m.Epoch = node, epoch
	case *registrypb.SyncRequest:
		m.Node, m.Epoch = node, epoch
	case *registrypb.Snapshot:
		m.Node, m.Epoch = node, epoch
	case *registrypb.Delta:
		m.Node, m.Epoch = node, epoch
	case *registrypb.Leave:
		m.Node, m.Epoch = node, epoch
	}
}

// checkCluster checks the store's indexes and who holds what: every name
// is held by this node or by the peer that sent it, with a PID of that
// node, and the peer's names carry no time later than notAfter.
func checkCluster(t *testing.T, c *Cluster, a *clusterActor, notAfter int64) {
	t.Helper()
	n := 0
	for i := range c.s.shards {
		sh := &c.s.shards[i]
		sh.mu.RLock()
		inOwners, inPeers := 0, 0
		for o, e := range sh.owners {
			require.Nil(t, e.ownerPrev, "owner list head")
			for ; e != nil; e = e.ownerNext {
				require.Equal(t, o, e.owner)
				require.Same(t, e, sh.get(e.h, e.name), "listed under its owner, not in the index")
				if e.ownerNext != nil {
					require.Same(t, e, e.ownerNext.ownerPrev)
				}
				inOwners++
			}
		}
		for p, e := range sh.peers {
			require.Nil(t, e.peerPrev, "peer list head")
			for ; e != nil; e = e.peerNext {
				require.Equal(t, p, e.peer.Addr())
				require.Same(t, e, sh.get(e.h, e.name))
				if e.peerNext != nil {
					require.Same(t, e, e.peerNext.peerPrev)
				}
				inPeers++
			}
		}
		owned, peered := 0, 0
		sh.names.all(func(e *entry) bool {
			n++
			h, s := c.s.shard(e.name)
			require.Equal(t, h, e.h)
			require.Same(t, sh, s)
			require.NotNil(t, e.x)
			require.NotEmpty(t, e.name)
			switch e.x.node {
			case c.self:
			case fuzzPeer:
				require.LessOrEqual(t, e.x.reg, notAfter, "a peer's registration time is in the future")
			default:
				t.Fatalf("%q held by %s, which sent nothing", e.name, e.x.node)
			}
			require.Equal(t, e.x.node, e.pid.Address)
			if e.owner != "" {
				owned++
			}
			if e.peer.Addr().IsValid() {
				peered++
			}
			return true
		})
		sh.mu.RUnlock()
		require.Equal(t, owned, inOwners)
		require.Equal(t, peered, inPeers)
	}
	require.Equal(t, int64(n), c.s.n.Load())
	cands := 0
	for addr, p := range a.members {
		require.Equal(t, addr, p.addr)
		if p.candidate {
			cands++
			require.False(t, p.live(), "a candidate is up")
		}
		if p.live() {
			require.Equal(t, fuzzPeer, addr, "up without a message from itself")
		}
	}
	require.Equal(t, int64(cands), c.stats.candidates.Load())
	require.LessOrEqual(t, cands, maxCandidates)
}

// fuzzPeerMessage feeds random encodings of one message type to the
// actor: as they come (their node field is whatever it is, so mostly
// refused), or made to speak for the peer that sends them.
func fuzzPeerMessage(f *testing.F, mk func() proto.Message, seeds ...proto.Message) {
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		require.NoError(f, err)
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, fromPeer bool) {
		msg := mk()
		if proto.Unmarshal(data, msg) != nil {
			return
		}
		c, a := newTestCluster(t, nil)
		if fromPeer {
			speakFor(msg, fuzzPeer, fuzzEpoch)
		}
		node, _ := peerNode(msg)
		before := c.Stats()
		a.fromPeer(peerPID(), msg)
		checkCluster(t, c, a, time.Now().UnixNano())
		if node != fuzzPeer {
			after := c.Stats()
			require.Equal(t, before.RefusedSender+1, after.RefusedSender, "a message from %s speaking for %q", fuzzPeer, node)
			require.Equal(t, before.Sent(), after.Sent(), "answered a refused message")
		}
		// The same message with no sender is refused whatever it says.
		before = c.Stats()
		a.fromPeer(nil, msg)
		require.Equal(t, before.RefusedSender+1, c.Stats().RefusedSender)
		checkCluster(t, c, a, time.Now().UnixNano())
	})
}

func wireEntry(name string, reg int64, ver uint64) *registrypb.Entry {
	return &registrypb.Entry{Name: name, PidId: "pid-" + name, Owner: "srv", ConnId: 7, Peer: "10.0.0.2:9",
		Local: "127.0.0.1:80", Transport: "tcp", StartedUnixNano: reg, RegisteredUnixNano: reg, Version: ver,
		Tags: []*registrypb.Tag{{Key: "k", Value: "v"}}}
}

var future = time.Now().Add(24 * time.Hour).UnixNano()

func FuzzHello(f *testing.F) {
	fuzzPeerMessage(f, func() proto.Message { return &registrypb.Hello{} },
		&registrypb.Hello{Protocol: protocolVersion, Node: fuzzPeer, Epoch: fuzzEpoch, Members: []string{"127.0.0.1:3", "bad", ""}},
		&registrypb.Hello{Protocol: protocolVersion, Node: fuzzPeer, Epoch: fuzzEpoch + 1},
		&registrypb.Hello{Protocol: 0, Node: fuzzPeer, Epoch: fuzzEpoch + 1},
		&registrypb.Hello{Protocol: protocolVersion, Node: fuzzSelf, Epoch: 1, Members: []string{fuzzSelf, fuzzPeer}})
}

func FuzzHeartbeat(f *testing.F) {
	fuzzPeerMessage(f, func() proto.Message { return &registrypb.Heartbeat{} },
		&registrypb.Heartbeat{Node: fuzzPeer, Epoch: fuzzEpoch, Seq: 0},
		&registrypb.Heartbeat{Node: fuzzPeer, Epoch: fuzzEpoch, Seq: 5},
		&registrypb.Heartbeat{Node: "127.0.0.1:3", Epoch: 9})
}

func FuzzSyncRequest(f *testing.F) {
	fuzzPeerMessage(f, func() proto.Message { return &registrypb.SyncRequest{} },
		&registrypb.SyncRequest{Node: fuzzPeer, Epoch: fuzzEpoch},
		&registrypb.SyncRequest{Node: fuzzPeer, Epoch: fuzzEpoch + 1})
}

func FuzzSnapshot(f *testing.F) {
	fuzzPeerMessage(f, func() proto.Message { return &registrypb.Snapshot{} },
		&registrypb.Snapshot{Node: fuzzPeer, Epoch: fuzzEpoch, Last: true, Entries: []*registrypb.Entry{
			wireEntry("own", future, 1), wireEntry("a", time.Now().UnixNano(), 2), wireEntry("", 0, 3)}},
		&registrypb.Snapshot{Node: fuzzPeer, Epoch: fuzzEpoch, Part: 1, Entries: []*registrypb.Entry{wireEntry("peer-name", future, 1)}},
		&registrypb.Snapshot{Node: fuzzSelf, Epoch: 1, Last: true, Entries: []*registrypb.Entry{wireEntry("own", future, 9)}})
}

func FuzzDelta(f *testing.F) {
	reg := func(e *registrypb.Entry) *registrypb.Op {
		return &registrypb.Op{Kind: registrypb.Op_KIND_REGISTER, Entry: e}
	}
	fuzzPeerMessage(f, func() proto.Message { return &registrypb.Delta{} },
		&registrypb.Delta{Node: fuzzPeer, Epoch: fuzzEpoch, Seq: 1, Ops: []*registrypb.Op{
			reg(wireEntry("own", future, 2)), reg(wireEntry("b", 5, 3)),
			{Kind: registrypb.Op_KIND_UNREGISTER, Entry: &registrypb.Entry{Name: "peer-name", Version: 1}},
			{Kind: registrypb.Op_KIND_REGISTER}, {Kind: registrypb.Op_KIND_UNREGISTER}, {Kind: 7}}},
		&registrypb.Delta{Node: fuzzPeer, Epoch: fuzzEpoch, Seq: 3},
		&registrypb.Delta{Node: fuzzSelf, Epoch: 1, Seq: 1, Ops: []*registrypb.Op{reg(wireEntry("x", 1, 1))}})
}

func FuzzLeave(f *testing.F) {
	fuzzPeerMessage(f, func() proto.Message { return &registrypb.Leave{} },
		&registrypb.Leave{Node: fuzzPeer, Epoch: fuzzEpoch},
		&registrypb.Leave{Node: fuzzPeer, Epoch: 1})
}

// A peer's registration that lost a conflict here keeps the time it was
// first heard of when it is sent again, and one with a future time is
// taken as made when it arrived.
func TestClusterRemoteTimes(t *testing.T) {
	c, a := newTestCluster(t, nil)
	send := func(ops ...*registrypb.Entry) {
		a.members[fuzzPeer].applied = 0
		d := &registrypb.Delta{Node: fuzzPeer, Epoch: fuzzEpoch, Seq: 1}
		for _, e := range ops {
			d.Ops = append(d.Ops, &registrypb.Op{Kind: registrypb.Op_KIND_REGISTER, Entry: e})
		}
		a.fromPeer(peerPID(), d)
	}
	before := time.Now().UnixNano()
	send(wireEntry("f", future, 5))
	e, err := c.Lookup("f")
	require.NoError(t, err)
	assert.Equal(t, fuzzPeer, e.Node)
	assert.LessOrEqual(t, e.Registered.UnixNano(), time.Now().UnixNano())
	assert.GreaterOrEqual(t, e.Registered.UnixNano(), before)

	// "own" was registered here before the peer's future claim arrived:
	// the claim counts as made on arrival, later, so it wins (newer wins).
	// Registered again here afterwards, ours is newer still.
	ownBefore, err := c.Lookup("own")
	require.NoError(t, err)
	send(wireEntry("own", future, 6))
	e, _ = c.Lookup("own")
	assert.Equal(t, fuzzPeer, e.Node)
	assert.Greater(t, e.Registered.UnixNano(), ownBefore.Registered.UnixNano())
}

// Refused messages are counted, each, and logged once per sender.
func TestClusterRefusedLogOncePerSender(t *testing.T) {
	var buf bytes.Buffer
	c, a := newTestCluster(t, slog.New(slog.NewTextHandler(&buf, nil)))
	for range 100 {
		a.fromPeer(peerPID(), &registrypb.Heartbeat{Node: "127.0.0.1:3", Epoch: 1})
		a.fromPeer(actor.NewPID("127.0.0.1:4", "x"), &registrypb.Delta{Node: fuzzPeer, Epoch: fuzzEpoch, Seq: 1})
		a.fromPeer(nil, &registrypb.Leave{Node: fuzzPeer, Epoch: fuzzEpoch})
		a.fromPeer(peerPID(), &registrypb.Hello{Protocol: protocolVersion + 1, Node: fuzzPeer, Epoch: fuzzEpoch})
	}
	s := c.Stats()
	assert.Equal(t, uint64(300), s.RefusedSender)
	assert.Equal(t, uint64(100), s.RefusedProtocol)
	assert.Equal(t, uint64(400), s.Refused())
	// Three senders: the peer (twice refused, logged once), another
	// node, and none.
	assert.Equal(t, 3, strings.Count(buf.String(), "level=WARN"), buf.String())
	for _, from := range []string{"from=" + fuzzPeer, "from=127.0.0.1:4", `from="(no sender)"`} {
		assert.Contains(t, buf.String(), from)
	}
	assert.True(t, a.members[fuzzPeer].live(), "the peer's old-protocol Hello of its own epoch took it down")
}
