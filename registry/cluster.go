package registry

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/registry/internal/registrypb"
)

// protocolVersion is what this code's Hello announces (registrypb).
const protocolVersion = 1

// Defaults of a [Cluster].
const (
	DefaultHeartbeat        = time.Second     // how often a node tells its peers it lives
	DefaultHeartbeatTimeout = 3 * time.Second // silence after which a peer is taken for lost
	DefaultScope            = "default"
)

// maxCandidates caps the addresses heard of second hand (listed in a
// peer's Hello) that a node keeps trying at one time; the rest are
// ignored until some of these answer or are forgotten.
const maxCandidates = 256

// opsPerMessage caps the changes in one Delta or the entries in one
// Snapshot part, far below gRPC's 4 MB message limit.
const opsPerMessage = 1000

// A Resolver picks the winner when one name was registered on two nodes
// at once. a and b come in the same order on every node (a's node
// address sorts first), and the Resolver runs on every node that sees
// both, so it must be deterministic: it must depend on its arguments
// only. It returns a or b; anything else falls back to the default rule
// (see the package doc).
type Resolver func(name string, a, b Entry) Entry

// NameLost is sent to a PID that lost its cluster name to a conflicting
// registration on another node, when the cluster has [WithNotifyLoser].
// It is a local message: the loser's own node sends it.
type NameLost struct {
	Name   string
	Winner Entry
}

// ClusterOption configures [NewCluster].
type ClusterOption func(*clusterConfig)

type clusterConfig struct {
	scope       string
	interval    time.Duration
	timeout     time.Duration
	resolver    Resolver
	notifyLoser bool
	logger      *slog.Logger
}

// WithScope names the registry, so that several can share a node: only
// nodes of the same scope replicate to each other (syn's scopes). Default
// [DefaultScope].
func WithScope(name string) ClusterOption { return func(c *clusterConfig) { c.scope = name } }

// WithHeartbeat sets how often a node tells its peers it lives, and after
// how much silence a peer is taken for lost and its names dropped
// (defaults [DefaultHeartbeat], [DefaultHeartbeatTimeout]). timeout must
// exceed interval.
func WithHeartbeat(interval, timeout time.Duration) ClusterOption {
	return func(c *clusterConfig) { c.interval, c.timeout = interval, timeout }
}

// WithResolver replaces the default conflict rule.
func WithResolver(r Resolver) ClusterOption { return func(c *clusterConfig) { c.resolver = r } }

// WithNotifyLoser makes the losing node send a [NameLost] message to the
// PID that lost a conflict (subscribers get an Unregistered event with
// [ReasonConflict] either way).
func WithNotifyLoser() ClusterOption { return func(c *clusterConfig) { c.notifyLoser = true } }

// WithClusterLogger sets the cluster registry's logger (default: the
// actor system's).
func WithClusterLogger(l *slog.Logger) ClusterOption { return func(c *clusterConfig) { c.logger = l } }

// Cluster is the [Registry] whose names are unique across a set of
// nodes, in the model of Erlang's syn: every node is the authority for
// the names of its own PIDs and sends each change to its peers, and every
// node keeps a full copy, so Lookup and Select never leave the process
// and cost what they cost in a [Local] registry. Names of a node that
// leaves or is lost disappear from every other node; see the package doc
// for the bound, and for the rule that settles a name registered on two
// nodes at once.
//
// Register and Unregister accept only PIDs of this node; entries of other
// nodes carry a PID built for this node's actor system, and their Node.
type Cluster struct {
	node  *Node
	sys   *actor.ActorSystem
	cfg   clusterConfig
	log   *slog.Logger
	self  string
	epoch uint64
	id    string // the registry actor's id, the same on every node
	pid   *actor.PID

	s           store
	ver         atomic.Uint64 // registrations made here
	flushQueued atomic.Bool
	closed      atomic.Bool
	cancelWatch func()
	stats       clusterCounters
	probes      sync.WaitGroup // probes of peers whose connection was lost
	greet       chan greeting  // Hellos to candidates, sent by greeter
	greeted     chan struct{}  // closed when greeter returns
}

// greeting is a Hello to a candidate.
type greeting struct {
	to  *actor.PID
	msg *registrypb.Hello
}

var _ Registry = (*Cluster)(nil)

type clusterCounters struct {
	sent            [kindCount]atomic.Uint64
	received        atomic.Uint64
	conflicts       atomic.Uint64
	lost            atomic.Uint64
	redials         atomic.Uint64
	refusedSender   atomic.Uint64
	refusedProtocol atomic.Uint64
	candidates      atomic.Int64 // a gauge
}

// Message kinds, for ClusterStats.
const (
	kindHello = iota
	kindHeartbeat
	kindSyncRequest
	kindSnapshot
	kindDelta
	kindLeave
	kindCount
)

// NewCluster starts the cluster registry of node. peers are the
// addresses (host:port) of other nodes to join; the first node of a
// cluster may have none, and the others name at least one node that
// runs. Members learn of each other through those they know, so every
// node ends up connected to every other. A configured peer that is down
// is tried again every five heartbeats.
//
// It refuses ([ErrInsecure]) a node of the user's own remote
// ([AttachNode]) that listens beyond loopback: only a node from
// [StartNode] proves its peers.
//
// Close the Cluster before shutting its node down.
func NewCluster(node *Node, peers []string, opts ...ClusterOption) (*Cluster, error) {
	if node == nil {
		return nil, fmt.Errorf("%w: nil node", ErrInvalid)
	}
	if !Guarded(node.System()) && !Loopback(node.Listen()) {
		// A remote of the user's own (AttachNode): nothing proves its peers.
		return nil, fmt.Errorf("%w: node %s listens on %s without the guard of StartNode", ErrInsecure, node.Address(), node.Listen())
	}
	cfg := clusterConfig{scope: DefaultScope, interval: DefaultHeartbeat, timeout: DefaultHeartbeatTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.scope == "" {
		return nil, fmt.Errorf("%w: empty scope", ErrInvalid)
	}
	if cfg.interval <= 0 || cfg.timeout <= cfg.interval {
		return nil, fmt.Errorf("%w: heartbeat %v, timeout %v: want 0 < interval < timeout", ErrInvalid, cfg.interval, cfg.timeout)
	}
	c := &Cluster{
		node:  node,
		sys:   node.System(),
		cfg:   cfg,
		log:   cfg.logger,
		self:  node.Address(),
		epoch: uint64(time.Now().UnixNano()),
		id:    "etcp.registry." + cfg.scope,
		greet: make(chan greeting, maxCandidates),
	}
	if c.log == nil {
		c.log = c.sys.Logger()
	}
	c.s.init()
	var seeds []string
	for _, p := range peers {
		if p != c.self && p != "" && !slices.Contains(seeds, p) {
			seeds = append(seeds, p)
		}
	}
	pid, err := c.sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &clusterActor{c: c, seeds: seeds, members: make(map[string]*member)}
	}), c.id)
	if err != nil {
		return nil, fmt.Errorf("%w: scope %q: %v", ErrInvalid, cfg.scope, err)
	}
	c.pid = pid
	node.lowerRedialPeriod(cfg.interval)
	c.greeted = make(chan struct{})
	go c.greeter()
	c.cancelWatch = node.onEndpointLost(func(addr string) { c.sys.Root.Send(c.pid, &lostMsg{addr}) })
	return c, nil
}

// Address is this node's address, the Node of its own entries.
func (c *Cluster) Address() string { return c.self }

// Register implements [Registry]. pid must belong to this node. The name
// is taken here at once, and reaches the other nodes asynchronously; a
// name another node registered at the same moment is settled by the
// conflict rule, and the loser hears of it.
func (c *Cluster) Register(name string, pid *actor.PID, meta Meta) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if name == "" || pid == nil {
		return ErrInvalid
	}
	if pid.Address != c.self && pid.Address != noHost && pid.Address != "" {
		return fmt.Errorf("%w: PID %s is not on this node (%s)", ErrInvalid, pid.Address, c.self)
	}
	e := newEntry(name, pid, &meta)
	e.x = &clusterInfo{node: c.self, reg: time.Now().UnixNano(), ver: c.ver.Add(1)}
	h, sh := c.s.shard(name)
	e.h = h
	sh.mu.Lock()
	if old := sh.get(h, name); old != nil {
		if old.node() != c.self || !samePID(old.pid, pid) {
			sh.mu.Unlock()
			return fmt.Errorf("%w: %q", ErrNameTaken, name)
		}
		c.s.remove(sh, old, ReasonNone)
	}
	c.s.insert(sh, e)
	sh.pending = append(sh.pending, pendingOp{e: e})
	sh.mu.Unlock()
	c.kick()
	return nil
}

// Unregister implements [Registry]. A name held on another node fails
// with [ErrNotOwner].
func (c *Cluster) Unregister(name string, pid *actor.PID) error {
	if c.closed.Load() {
		return ErrClosed
	}
	h, sh := c.s.shard(name)
	sh.mu.Lock()
	e := sh.get(h, name)
	switch {
	case e == nil:
		sh.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	case e.node() != c.self || !samePID(e.pid, pid):
		sh.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNotOwner, name)
	}
	c.s.remove(sh, e, ReasonNone)
	sh.pending = append(sh.pending, pendingOp{e: e, unregister: true})
	sh.mu.Unlock()
	c.kick()
	return nil
}

// Lookup implements [Registry]: a read of this node's copy, which never
// sends a message and allocates nothing.
func (c *Cluster) Lookup(name string) (Entry, error) { return c.s.lookup(name) }

// Select implements [Registry], on this node's copy. Query.Node selects
// the names one node holds.
func (c *Cluster) Select(q Query) ([]Entry, error) { return c.s.selectEntries(q), nil }

// Subscribe implements [Registry]: events for names of every node, as
// they reach this one. Close cancels every subscription.
func (c *Cluster) Subscribe(fn func(Event)) (cancel func(), err error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	return c.s.subscribe(fn)
}

// Len returns the number of names this node knows, of every node.
func (c *Cluster) Len() int { return int(c.s.n.Load()) }

// Owners returns the owners of the entries of every node, each once, in no
// order (see [Local.Owners]).
func (c *Cluster) Owners() []string { return c.s.ownerNames() }

// ClusterStats counts a cluster registry's traffic.
type ClusterStats struct {
	// Messages this node sent to its peers, by kind. Lookups and Selects
	// send none.
	Hellos, Heartbeats, SyncRequests, Snapshots, Deltas, Leaves uint64
	Received                                                    uint64 // messages received from peers, refused ones included
	Conflicts                                                   uint64 // name conflicts settled here
	NodesLost                                                   uint64 // times a peer was taken for lost or left
	// Redials counts the times a peer fell silent for two heartbeat
	// intervals and this node dropped its connections to it, to dial
	// again (its names are kept; see "Partitions" in the package doc).
	Redials uint64

	// RefusedSender counts messages refused because they did not come
	// from the node they speak for: no sender, or a sender whose address
	// is not the message's node. They are not applied, and the first
	// from each sender address in a minute is logged at warn level.
	RefusedSender uint64
	// RefusedProtocol counts Hellos refused because they announced a
	// protocol version this node does not speak; their sender is not
	// brought up (logged as RefusedSender is).
	RefusedProtocol uint64
	// Candidates is how many addresses, heard of only second hand (listed
	// in a peer's Hello), this node is greeting now, waiting for them to
	// answer themselves. It is a gauge, not a counter: a candidate that
	// answers becomes a member, one that stays silent for the heartbeat
	// timeout is forgotten. Candidates are not [Member]s and hold no
	// names.
	Candidates uint64
}

// Sent is the number of messages sent, of every kind.
func (s ClusterStats) Sent() uint64 {
	return s.Hellos + s.Heartbeats + s.SyncRequests + s.Snapshots + s.Deltas + s.Leaves
}

// Refused is the number of messages refused, for every reason.
func (s ClusterStats) Refused() uint64 { return s.RefusedSender + s.RefusedProtocol }

// Stats returns the registry's counters.
func (c *Cluster) Stats() ClusterStats {
	s := &c.stats.sent
	return ClusterStats{
		Hellos: s[kindHello].Load(), Heartbeats: s[kindHeartbeat].Load(), SyncRequests: s[kindSyncRequest].Load(),
		Snapshots: s[kindSnapshot].Load(), Deltas: s[kindDelta].Load(), Leaves: s[kindLeave].Load(),
		Received: c.stats.received.Load(), Conflicts: c.stats.conflicts.Load(), NodesLost: c.stats.lost.Load(),
		Redials:       c.stats.redials.Load(),
		RefusedSender: c.stats.refusedSender.Load(), RefusedProtocol: c.stats.refusedProtocol.Load(),
		Candidates: uint64(max(c.stats.candidates.Load(), 0)),
	}
}

// A Member is a peer as this node sees it.
type Member struct {
	Address   string
	Up        bool      // heard from, and its names replicated here
	Seed      bool      // given to NewCluster
	LastHeard time.Time // zero if never
}

// Members returns the peers this node knows, sorted by address: those
// given to NewCluster or AddPeer, and those that introduced themselves
// (a Hello from their own address). An address only listed in another
// peer's Hello is a candidate until it answers, and is not listed (see
// [ClusterStats].Candidates).
func (c *Cluster) Members() ([]Member, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	res, err := c.sys.Root.RequestFuture(c.pid, &membersMsg{}, 5*time.Second).Result()
	if err != nil {
		return nil, err
	}
	return res.([]Member), nil
}

// AddPeer adds addr (host:port) to the peers this node keeps trying to
// reach, like one given to NewCluster. With a protoactor cluster,
// package registry/membership calls it for every member that joins.
func (c *Cluster) AddPeer(addr string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if addr == "" {
		return ErrInvalid
	}
	c.sys.Root.Send(c.pid, &peerMsg{addr: addr, add: true})
	return nil
}

// RemovePeer drops addr's names now, stops talking to it and ignores it
// until AddPeer names it again or it restarts (a new incarnation says
// Hello). With a protoactor cluster, package registry/membership calls
// it for every member that leaves.
func (c *Cluster) RemovePeer(addr string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.sys.Root.Send(c.pid, &peerMsg{addr: addr})
	return nil
}

// Close tells the peers this node's names are gone (they drop them at
// once), stops the registry actor and cancels every subscription. Lookup
// and Select then read what was last known; the rest return [ErrClosed].
// It does not shut the node down.
func (c *Cluster) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	_, _ = c.sys.Root.RequestFuture(c.pid, &closeMsg{}, 5*time.Second).Result()
	c.cancelWatch()
	_ = c.sys.Root.StopFuture(c.pid).Wait()
	c.probes.Wait()
	close(c.greet)
	<-c.greeted
	c.s.closeSubscribers()
	return nil
}

// kick asks the actor to send the pending changes, once per batch.
func (c *Cluster) kick() {
	if c.flushQueued.CompareAndSwap(false, true) {
		c.sys.Root.Send(c.pid, flushMsg{})
	}
}

// defaultWinner is the default conflict rule: the newer registration
// wins; equal times, the greater node address; then the greater version.
func defaultWinner(a, b *entry) *entry {
	switch {
	case a.x.reg != b.x.reg:
		if a.x.reg > b.x.reg {
			return a
		}
		return b
	case a.x.node != b.x.node:
		if a.x.node > b.x.node {
			return a
		}
		return b
	case a.x.ver >= b.x.ver:
		return a
	}
	return b
}

func (c *Cluster) winner(name string, x, y *entry) *entry {
	a, b := x, y
	if a.x.node > b.x.node {
		a, b = b, a
	}
	if c.cfg.resolver != nil {
		w := c.cfg.resolver(name, a.export(), b.export())
		switch {
		case w.Node == a.x.node && w.PID != nil && w.PID.Id == a.pid.Id:
			return a
		case w.Node == b.x.node && w.PID != nil && w.PID.Id == b.pid.Id:
			return b
		}
	}
	return defaultWinner(a, b)
}

func toWire(e *entry) *registrypb.Entry {
	pe := &registrypb.Entry{
		Name: e.name, PidId: e.pid.Id, Owner: e.owner, ConnId: e.connID, Transport: e.transport,
		StartedUnixNano: e.started, RegisteredUnixNano: e.x.reg, Version: e.x.ver,
	}
	if e.peer.IsValid() {
		pe.Peer = e.peer.String()
	}
	if e.local.IsValid() {
		pe.Local = e.local.String()
	}
	for _, t := range e.tags {
		pe.Tags = append(pe.Tags, &registrypb.Tag{Key: t.Key, Value: t.Value})
	}
	return pe
}

// fromWire builds the entry of a registration held by node, the node
// that sent it (an Entry has no node of its own). heard is when this
// node first heard of that registration: the entry's time is the
// earlier of the two (see the conflict rule in the package doc).
func fromWire(node string, pe *registrypb.Entry, heard int64) *entry {
	e := &entry{
		name: pe.Name, pid: actor.NewPID(node, pe.PidId), owner: pe.Owner, connID: pe.ConnId,
		transport: pe.Transport, started: pe.StartedUnixNano,
		x: &clusterInfo{node: node, reg: min(pe.RegisteredUnixNano, heard), ver: pe.Version},
	}
	e.peer, _ = netip.ParseAddrPort(pe.Peer)
	e.local, _ = netip.ParseAddrPort(pe.Local)
	if len(pe.Tags) > 0 {
		e.tags = make([]Tag, len(pe.Tags))
		for i, t := range pe.Tags {
			e.tags[i] = Tag{t.Key, t.Value}
		}
	}
	return e
}

// lostConflict is a local PID that lost its name, to be told after the
// shard is unlocked.
type lostConflict struct {
	loser, winner *entry
}

// applyRegister puts a peer's registration in the copy, settling a
// conflict with another node's registration of the same name. It returns
// the registration of a third node (neither this one nor, for e, its
// own) that lost here, if any: e itself, or the one e displaced; and
// whether e is in the copy now.
func (c *Cluster) applyRegister(e *entry, lost *[]lostConflict) (beaten *entry, in bool) {
	h, sh := c.s.shard(e.name)
	e.h = h
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := sh.get(h, e.name)
	switch {
	case old == nil:
		c.s.insert(sh, e)
		return nil, true
	case old.x.node == e.x.node:
		if old.x.ver != e.x.ver { // a newer registration by the same node
			c.s.remove(sh, old, ReasonNone)
			c.s.insert(sh, e)
			return nil, true
		}
		return nil, false // the same registration again: it keeps its time
	}
	c.stats.conflicts.Add(1)
	if c.winner(e.name, old, e) == old {
		old.x.beat = e.x.node
		return e, false
	}
	c.s.remove(sh, old, ReasonConflict)
	e.x.beat = old.x.node
	c.s.insert(sh, e)
	if old.x.node == c.self {
		// The loser is ours: tell the other nodes it is gone.
		sh.pending = append(sh.pending, pendingOp{e: old, unregister: true})
		*lost = append(*lost, lostConflict{old, e})
		return nil, true
	}
	return old, true
}

// applyUnregister removes a peer's registration, if it is still there,
// and returns the node whose registration of the name it had displaced
// here ("" if none).
func (c *Cluster) applyUnregister(node, name string, ver uint64) (beat string) {
	h, sh := c.s.shard(name)
	sh.mu.Lock()
	if old := sh.get(h, name); old != nil && old.x.node == node && old.x.ver == ver {
		beat = old.x.beat
		c.s.remove(sh, old, ReasonNone)
	}
	sh.mu.Unlock()
	return beat
}

// dropNode removes every name of node, or those keep does not hold.
func (c *Cluster) dropNode(node string, keep map[string]struct{}, why Reason) int {
	n := 0
	var doomed []*entry
	for i := range c.s.shards {
		sh := &c.s.shards[i]
		sh.mu.Lock()
		doomed = doomed[:0]
		sh.names.all(func(e *entry) bool {
			if e.x.node == node {
				if _, ok := keep[e.name]; !ok {
					doomed = append(doomed, e)
				}
			}
			return true
		})
		for _, e := range doomed {
			c.s.remove(sh, e, why)
		}
		n += len(doomed)
		sh.mu.Unlock()
	}
	return n
}

// takePending collects this node's unsent changes, in order per name.
func (c *Cluster) takePending() []pendingOp {
	var ops []pendingOp
	for i := range c.s.shards {
		sh := &c.s.shards[i]
		sh.mu.Lock()
		if len(sh.pending) > 0 {
			ops = append(ops, sh.pending...)
			clear(sh.pending)
			sh.pending = sh.pending[:0]
		}
		sh.mu.Unlock()
	}
	return ops
}

// own returns this node's names, for a snapshot.
func (c *Cluster) own() []*registrypb.Entry {
	var out []*registrypb.Entry
	for i := range c.s.shards {
		sh := &c.s.shards[i]
		sh.mu.RLock()
		sh.names.all(func(e *entry) bool {
			if e.x.node == c.self {
				out = append(out, toWire(e))
			}
			return true
		})
		sh.mu.RUnlock()
	}
	return out
}
