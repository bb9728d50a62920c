package registry

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/registry/internal/hooks"
	"github.com/etcp-go/etcp/registry/internal/registrypb"
)

// Local messages of the registry actor.
type (
	flushMsg  struct{}
	tickMsg   struct{}
	lostMsg   struct{ addr string }
	probedMsg struct {
		addr  string
		epoch uint64
		err   error // nil: it answered, or not in time
		greet bool  // the probe of a member that is down, greeted unless refused
	}
	closeMsg   struct{}
	membersMsg struct{}
	peerMsg    struct {
		addr string
		add  bool
	}
)

// peerState is a member's liveness as the registry actor sees it. Only
// the actor reads and changes it. The transitions:
//
//	down    -> up       heard from: a Hello, or a message of an
//	                    incarnation it knows (its names are then synced)
//	up      -> suspect  silent for two heartbeat intervals (when that is
//	                    shorter than the timeout): the connections this
//	                    node dialled to it are dropped, and the next
//	                    heartbeat dials again; its names stay
//	suspect -> up       heard from
//	up      -> down     silent for the heartbeat timeout (its
//	suspect -> down     connections are dropped too), its connection
//	                    lost and a probe of its address refused, it
//	                    left, it was removed, or it restarted (then
//	                    straight back up): its names are dropped
//
// A lost connection alone proves nothing: protoactor reports one for
// every connection this node drops, and a writer that failed to connect
// reports its address lost seconds later, whatever connection serves it
// by then. So a loss is checked with a probe ([Node.Probe], for at most
// one heartbeat interval): a connection refused or reset (the process
// ended) or a handshake refused (another node listens there) takes the
// peer down at once; an answer, or no answer within the interval (a
// partition, or a frozen process: the heartbeat timeout decides),
// changes nothing.
//
// A member that is down is probed every five heartbeat intervals, and
// greeted unless the probe is refused, for as long as it is kept: a seed always, another member lost to the
// heartbeat timeout (it may only be cut off, or frozen) until a probe of
// its address is refused. Members that leave, are removed or whose
// connection is refused are forgotten, seeds excepted.
type peerState uint8

const (
	peerDown peerState = iota
	peerUp
	peerSuspect
)

var peerStateNames = [...]string{peerDown: "down", peerUp: "up", peerSuspect: "suspect"}

func (s peerState) String() string { return peerStateNames[s] }

// member is a peer as the registry actor keeps it.
type member struct {
	addr      string
	pid       *actor.PID // built for this node's actor system
	seed      bool
	state     peerState
	epoch     uint64
	lastHeard time.Time
	lastHello time.Time
	applied   uint64 // seq of its last Delta applied here
	syncing   bool   // waiting for a Snapshot: its Deltas are dropped
	syncSince time.Time
	snap      map[string]struct{} // names of the Snapshot being received
	// candidate: heard of only second hand (in another peer's Hello),
	// greeted since candidateSince, and not yet heard from itself.
	candidate      bool
	candidateSince time.Time
	// beaten holds its registrations that lost a conflict here, by name:
	// their version and their time as first heard of, so that the same
	// registration sent again (a new Snapshot) keeps the time it had.
	beaten map[string]heardAt
}

// heardAt is a peer's registration as this node first heard of it.
type heardAt struct {
	ver uint64
	at  int64
}

// How often a refused message is logged, per sender address, and for how
// many senders at most at one time.
const (
	refuseLogEvery = time.Minute
	refuseLogPeers = 1024
)

// clusterActor owns membership and replication. Local registrations do
// not pass through it: they change the table directly and leave a
// pending change, which the actor sends in batches.
type clusterActor struct {
	c       *Cluster
	self    *actor.PID
	seeds   []string
	members map[string]*member
	removed map[string]uint64 // RemovePeer: address -> epoch ignored (0: any)
	// badProtocol: address -> epoch whose Hello announced another
	// protocol; its other messages do not bring it up either.
	badProtocol map[string]uint64
	warned      map[string]time.Time // sender address -> last warning logged
	seq         uint64               // Deltas sent by this incarnation
	timer       *time.Timer
	closed      bool
}

func (a *clusterActor) Receive(ctx actor.Context) {
	c := a.c
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self = ctx.Self()
		for _, s := range a.seeds {
			p := a.member(s)
			p.seed = true
			a.greetWhenListening(p)
		}
		a.arm()
	case flushMsg:
		a.flush()
	case *tickMsg:
		a.tick()
	case *lostMsg:
		if p := a.members[m.addr]; p != nil && !p.candidate && (p.live() || !p.seed) {
			a.probe(p, false)
		}
	case *probedMsg:
		switch p := a.members[m.addr]; {
		case p != nil && m.greet && m.err == nil && p.state == peerDown:
			a.hello(p)
		case p == nil || m.err == nil:
		case p.live() && p.epoch == m.epoch:
			a.down(p, "connection lost: "+m.err.Error())
		case p.state == peerDown && !p.seed && !p.candidate:
			a.forget(p) // lost to the heartbeat timeout, and now refuses
		}
	case *peerMsg:
		switch p := a.members[m.addr]; {
		case m.add && m.addr != c.self && (p == nil || !p.seed):
			delete(a.removed, m.addr)
			p = a.member(m.addr)
			a.promote(p)
			p.seed = true
			if p.state == peerDown {
				a.greetWhenListening(p)
			}
		case !m.add:
			var epoch uint64
			if p != nil {
				epoch = p.epoch
				p.seed = false
				if p.live() {
					a.down(p, "removed")
				} else {
					a.forget(p)
				}
			}
			if a.removed == nil {
				a.removed = make(map[string]uint64)
			}
			a.removed[m.addr] = epoch
		}
	case *membersMsg:
		out := make([]Member, 0, len(a.members))
		for _, p := range a.members {
			if p.candidate {
				continue
			}
			out = append(out, Member{Address: p.addr, Up: p.live(), Seed: p.seed, LastHeard: p.lastHeard})
		}
		slices.SortFunc(out, func(x, y Member) int { return strings.Compare(x.Address, y.Address) })
		ctx.Respond(out)
	case *closeMsg:
		a.flush()
		for _, p := range a.members {
			if p.live() {
				a.send(p, kindLeave, &registrypb.Leave{Node: c.self, Epoch: c.epoch})
			}
		}
		a.closed = true
		if a.timer != nil {
			a.timer.Stop()
		}
		ctx.Respond(true)

	case *registrypb.Hello, *registrypb.Heartbeat, *registrypb.SyncRequest,
		*registrypb.Snapshot, *registrypb.Delta, *registrypb.Leave:
		a.fromPeer(ctx.Sender(), m.(proto.Message))
	}
}

// peerNode returns the node a registry message speaks for, and its kind's
// name.
func peerNode(msg proto.Message) (node, kind string) {
	switch m := msg.(type) {
	case *registrypb.Hello:
		return m.Node, "Hello"
	case *registrypb.Heartbeat:
		return m.Node, "Heartbeat"
	case *registrypb.SyncRequest:
		return m.Node, "SyncRequest"
	case *registrypb.Snapshot:
		return m.Node, "Snapshot"
	case *registrypb.Delta:
		return m.Node, "Delta"
	case *registrypb.Leave:
		return m.Node, "Leave"
	}
	return "", ""
}

// fromPeer applies a message of another node's registry actor, if it
// comes from the node it speaks for: its sender must be a PID of that
// node. Node's remote setup guarantees that a sender PID names the
// authenticated node that sent the message (one naming another node is
// dropped before any actor sees it), so a node can speak only for itself.
// The entries of a Snapshot or Delta are the sender's own names: an
// Entry has no node of its own, fromWire attributes it to the sender.
func (a *clusterActor) fromPeer(sender *actor.PID, msg proto.Message) {
	c := a.c
	c.stats.received.Add(1)
	node, kind := peerNode(msg)
	if sender == nil || node == "" || sender.Address != node {
		c.stats.refusedSender.Add(1)
		a.warn(sender, node, kind, "the sender is not the node the message speaks for")
		return
	}
	switch m := msg.(type) {
	case *registrypb.Hello:
		if m.Protocol != protocolVersion {
			c.stats.refusedProtocol.Add(1)
			a.warn(sender, node, kind, "protocol version "+strconv.FormatUint(uint64(m.Protocol), 10)+
				", this node speaks "+strconv.Itoa(protocolVersion))
			if a.badProtocol == nil || len(a.badProtocol) >= refuseLogPeers {
				a.badProtocol = make(map[string]uint64)
			}
			a.badProtocol[m.Node] = m.Epoch
			return
		}
		delete(a.badProtocol, m.Node)
		a.onHello(m.Node, m.Epoch, m.Members)
	case *registrypb.Heartbeat:
		a.onHeartbeat(m)
	case *registrypb.SyncRequest:
		a.known(m.Node, m.Epoch) // brings an unknown sender up first
		if p := a.members[m.Node]; p != nil && p.live() && p.epoch == m.Epoch {
			a.snapshot(p)
		}
	case *registrypb.Snapshot:
		a.onSnapshot(m)
	case *registrypb.Delta:
		a.onDelta(m)
	case *registrypb.Leave:
		if p := a.members[m.Node]; p != nil && p.live() && p.epoch == m.Epoch {
			a.down(p, "left")
		}
	}
}

// warn logs a refused message, once a minute at most per sender address.
func (a *clusterActor) warn(sender *actor.PID, node, kind, why string) {
	from := "(no sender)"
	if sender != nil {
		from = sender.Address
	}
	now := time.Now()
	if t, ok := a.warned[from]; ok && now.Sub(t) < refuseLogEvery {
		return
	}
	if a.warned == nil {
		a.warned = make(map[string]time.Time)
	}
	if len(a.warned) >= refuseLogPeers {
		for k, t := range a.warned {
			if now.Sub(t) >= refuseLogEvery {
				delete(a.warned, k)
			}
		}
		if len(a.warned) >= refuseLogPeers {
			return // flooded by that many senders: counted, not logged
		}
	}
	a.warned[from] = now
	a.c.log.Warn("etcp/registry: refused a message from a peer (logged once a minute per sender)",
		slog.String("node", a.c.self), slog.String("from", from), slog.String("claims", node),
		slog.String("message", kind), slog.String("why", why))
}

func (a *clusterActor) member(addr string) *member {
	p := a.members[addr]
	if p == nil {
		p = &member{addr: addr, pid: a.c.node.PID(addr, a.c.id)}
		a.members[addr] = p
	}
	return p
}

// send sends msg to p's registry actor with this one as its sender: a
// peer accepts a message only from the node it speaks for.
func (a *clusterActor) send(p *member, kind int, msg proto.Message) {
	if a.closed {
		return
	}
	a.c.stats.sent[kind].Add(1)
	a.c.sys.Root.RequestWithCustomSender(p.pid, msg, a.self)
}

// promote makes a candidate a member.
func (a *clusterActor) promote(p *member) {
	if p.candidate {
		p.candidate = false
		a.c.stats.candidates.Add(-1)
	}
}

// forget drops a member that is not up.
func (a *clusterActor) forget(p *member) {
	a.promote(p)
	delete(a.members, p.addr)
}

// validAddr reports whether addr looks like host:port.
func validAddr(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

// greetWhenListening greets p, a member that is down, unless a probe is
// refused (nothing serves its address, or no node does): a greeting
// there would hold protoactor's writer for that address in its connect
// retries, and this node's shutdown behind it. A probe with no answer in
// time (a partition, a frozen process) still greets: the node's dialer
// keeps trying, so the greeting arrives within an interval of the heal.
func (a *clusterActor) greetWhenListening(p *member) {
	p.lastHello = time.Now()
	a.probe(p, true)
}

func (a *clusterActor) hello(p *member) {
	p.lastHello = time.Now()
	a.send(p, kindHello, a.helloMsg())
}

// helloMsg is this node's Hello, listing the members that are up.
func (a *clusterActor) helloMsg() *registrypb.Hello {
	h := &registrypb.Hello{Protocol: protocolVersion, Node: a.c.self, Epoch: a.c.epoch}
	for _, q := range a.members {
		if q.live() {
			h.Members = append(h.Members, q.addr)
		}
	}
	return h
}

func (a *clusterActor) arm() {
	self, root := a.self, a.c.sys.Root
	a.timer = time.AfterFunc(a.c.cfg.interval, func() { root.Send(self, &tickMsg{}) })
}

// known returns the member at addr if it is up in incarnation epoch;
// otherwise it treats the message as a Hello from it and returns nil.
func (a *clusterActor) known(addr string, epoch uint64) *member {
	if p := a.members[addr]; p != nil && p.live() && p.epoch == epoch {
		a.heard(p)
		return p
	}
	if e, bad := a.badProtocol[addr]; bad && e == epoch {
		return nil // its Hello was refused
	}
	a.onHello(addr, epoch, nil)
	return nil
}

// onHello brings a peer up: a new one, one that was down, or one that
// restarted (a new epoch). Its names are then fetched with a snapshot,
// and it is greeted back so that it fetches ours.
func (a *clusterActor) onHello(addr string, epoch uint64, members []string) {
	c := a.c
	if addr == c.self || a.closed {
		return
	}
	if e, ok := a.removed[addr]; ok {
		if e == 0 || e == epoch {
			return // RemovePeer: ignored until AddPeer, or until it restarts
		}
		delete(a.removed, addr)
	}
	p := a.member(addr)
	a.promote(p) // it answered itself
	a.heard(p)
	if p.state == peerDown || p.epoch != epoch {
		if p.live() { // restarted: its old incarnation's names are gone
			a.drop(p, "restarted")
		}
		p.state, p.epoch, p.applied = peerUp, epoch, 0
		c.log.Debug("etcp/registry: peer up", slog.String("node", c.self), slog.String("peer", addr))
		a.sync(p)
		a.hello(p)
	}
	// Members it lists are candidates: greeted, but members only once
	// they answer themselves. They are greeted from another goroutine:
	// the first message to an address blocks its sender while protoactor
	// connects (milliseconds each, and a Hello may list hundreds).
	var h *registrypb.Hello
	now := time.Now()
	for _, m := range members {
		if c.stats.candidates.Load() >= maxCandidates || a.closed {
			break
		}
		if _, gone := a.removed[m]; m == c.self || a.members[m] != nil || gone || !validAddr(m) {
			continue
		}
		if h == nil {
			h = a.helloMsg()
		}
		pid := c.node.PID(m, c.id)
		select {
		case c.greet <- greeting{pid, h}:
		default:
			continue // the greeter is behind: it will be listed again
		}
		c.stats.sent[kindHello].Add(1)
		q := &member{addr: m, pid: pid, candidate: true, candidateSince: now, lastHello: now}
		a.members[m] = q
		c.stats.candidates.Add(1)
	}
}

// greeter sends the greetings queued for candidates, until Close.
func (c *Cluster) greeter() {
	defer close(c.greeted)
	for g := range c.greet {
		if !c.closed.Load() { // once closed, what is queued is dropped
			c.sys.Root.RequestWithCustomSender(g.to, g.msg, c.pid)
		}
	}
}

func (a *clusterActor) sync(p *member) {
	p.syncing, p.syncSince = true, time.Now()
	p.snap = nil
	a.send(p, kindSyncRequest, &registrypb.SyncRequest{Node: a.c.self, Epoch: a.c.epoch})
}

func (a *clusterActor) onHeartbeat(m *registrypb.Heartbeat) {
	p := a.known(m.Node, m.Epoch)
	if p == nil {
		return
	}
	if !p.syncing && m.Seq > p.applied {
		a.c.log.Debug("etcp/registry: missed deltas, syncing", slog.String("peer", p.addr))
		a.sync(p) // a Delta was lost on the way
	}
}

func (a *clusterActor) onSnapshot(m *registrypb.Snapshot) {
	p := a.members[m.Node]
	if p == nil || !p.live() || p.epoch != m.Epoch {
		return
	}
	a.heard(p)
	p.syncSince = p.lastHeard
	if m.Part == 0 || p.snap == nil {
		p.syncing = true
		p.snap = make(map[string]struct{}, len(m.Entries))
	}
	var lost []lostConflict
	now := time.Now().UnixNano()
	for _, pe := range m.Entries {
		if a.register(p, pe, now, &lost) {
			p.snap[pe.Name] = struct{}{}
		}
	}
	a.told(lost)
	if m.Last {
		a.c.dropNode(p.addr, p.snap, ReasonNone)
		p.snap = nil
		p.syncing = false
		p.applied = m.Seq
	}
}

func (a *clusterActor) onDelta(m *registrypb.Delta) {
	p := a.known(m.Node, m.Epoch)
	if p == nil || p.syncing || m.Seq <= p.applied {
		return
	}
	if m.Seq != p.applied+1 {
		a.sync(p)
		return
	}
	var lost []lostConflict
	now := time.Now().UnixNano()
	for _, op := range m.Ops {
		pe := op.GetEntry()
		switch op.GetKind() {
		case registrypb.Op_KIND_REGISTER:
			a.register(p, pe, now, &lost)
		case registrypb.Op_KIND_UNREGISTER:
			name, ver := pe.GetName(), pe.GetVersion()
			if h, ok := p.beaten[name]; ok && h.ver == ver {
				delete(p.beaten, name)
			}
			if beat := a.c.applyUnregister(p.addr, name, ver); beat != "" {
				// It had displaced another node's registration here. If
				// that one is still known, fetch it again: its node may
				// hold it still (this node may have settled the conflict
				// otherwise than the two nodes involved did).
				if q := a.members[beat]; q != nil && q.live() && !q.syncing {
					if _, ok := q.beaten[name]; ok {
						a.sync(q)
					}
				}
			}
		}
	}
	p.applied = m.Seq
	a.told(lost)
}

// register applies one of p's registrations, heard of at now, and
// reports whether it is valid (a name and a PID). Its time is the
// earlier of the time p claims and the time this node first heard of it:
// now, or when it first arrived if it lost a conflict here before.
func (a *clusterActor) register(p *member, pe *registrypb.Entry, now int64, lost *[]lostConflict) bool {
	if pe == nil || pe.Name == "" || pe.PidId == "" {
		return false
	}
	heard := now
	if h, ok := p.beaten[pe.Name]; ok && h.ver == pe.Version {
		heard = h.at
	}
	beaten, in := a.c.applyRegister(fromWire(p.addr, pe, heard), lost)
	if in {
		delete(p.beaten, pe.Name)
	}
	if beaten != nil {
		if q := a.members[beaten.x.node]; q != nil && q.live() {
			if q.beaten == nil {
				q.beaten = make(map[string]heardAt)
			}
			q.beaten[beaten.name] = heardAt{beaten.x.ver, beaten.x.reg}
		}
	}
	return true
}

// told tells subscribers' and losing PIDs of conflicts this node lost,
// and sends the resulting unregistrations.
func (a *clusterActor) told(lost []lostConflict) {
	if len(lost) == 0 {
		return
	}
	for _, l := range lost {
		a.c.log.Info("etcp/registry: name lost to a registration on another node",
			slog.String("name", l.loser.name), slog.String("winner", l.winner.x.node))
		if a.c.cfg.notifyLoser {
			a.c.sys.Root.Send(l.loser.pid, &NameLost{Name: l.loser.name, Winner: l.winner.export()})
		}
	}
	a.flush()
}

// live reports whether a member is up or suspect: its names are kept,
// and it is sent heartbeats and changes.
func (p *member) live() bool { return p.state != peerDown }

// heard records that p spoke: a suspect is up again.
func (a *clusterActor) heard(p *member) {
	p.lastHeard = time.Now()
	if p.state == peerSuspect {
		p.state = peerUp
		a.c.log.Debug("etcp/registry: peer heard again", slog.String("node", a.c.self), slog.String("peer", p.addr))
	}
}

// dropConnections closes the connections this node dialled to p, so that
// the next message dials again rather than wait behind a stream TCP is
// still retransmitting on. Protoactor then reports the connection lost:
// the probe that follows finds the peer reachable, or not within the
// interval.
func (a *clusterActor) dropConnections(p *member) { a.c.node.dropPeer(p.addr) }

// probe checks, from another goroutine, whether p still listens; the
// answer comes back as a probedMsg (marked greet when asked to greet p
// if it answers).
func (a *clusterActor) probe(p *member, greet bool) {
	c, self, addr, epoch := a.c, a.self, p.addr, p.epoch
	c.probes.Add(1)
	go func() {
		defer c.probes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.interval)
		defer cancel()
		err := c.node.Probe(ctx, addr)
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			err = nil // no answer in time: the heartbeat timeout decides
		}
		c.sys.Root.Send(self, &probedMsg{addr: addr, epoch: epoch, err: err, greet: greet})
	}()
}

// down drops a peer's names, and forgets it unless it is a seed.
func (a *clusterActor) down(p *member, why string) {
	a.drop(p, why)
	if !p.seed {
		delete(a.members, p.addr)
	}
}

// drop drops a peer's names and marks it down.
func (a *clusterActor) drop(p *member, why string) {
	c := a.c
	n := c.dropNode(p.addr, nil, ReasonNodeDown)
	c.stats.lost.Add(1)
	c.log.Info("etcp/registry: peer down, its names dropped", slog.String("node", c.self),
		slog.String("peer", p.addr), slog.String("why", why), slog.Int("names", n))
	p.state, p.syncing, p.snap, p.applied, p.beaten = peerDown, false, nil, 0, nil
}

// flush sends this node's pending changes to every member that is up.
func (a *clusterActor) flush() {
	c := a.c
	c.flushQueued.Store(false)
	if hooks.HoldDeltas.Load() {
		return
	}
	ops := c.takePending()
	for len(ops) > 0 {
		n := min(len(ops), opsPerMessage)
		a.seq++
		d := &registrypb.Delta{Node: c.self, Epoch: c.epoch, Seq: a.seq, Ops: make([]*registrypb.Op, n)}
		for i, op := range ops[:n] {
			if op.unregister {
				d.Ops[i] = &registrypb.Op{Kind: registrypb.Op_KIND_UNREGISTER,
					Entry: &registrypb.Entry{Name: op.e.name, Version: op.e.x.ver}}
			} else {
				d.Ops[i] = &registrypb.Op{Kind: registrypb.Op_KIND_REGISTER, Entry: toWire(op.e)}
			}
		}
		for _, p := range a.members {
			if p.live() {
				a.send(p, kindDelta, d)
			}
		}
		ops = ops[n:]
	}
}

// snapshot sends this node's names to p, in parts.
func (a *clusterActor) snapshot(p *member) {
	c := a.c
	a.flush() // the snapshot then includes every change numbered so far
	own := c.own()
	part := uint32(0)
	for {
		n := min(len(own), opsPerMessage)
		last := n == len(own)
		a.send(p, kindSnapshot, &registrypb.Snapshot{Node: c.self, Epoch: c.epoch, Seq: a.seq,
			Part: part, Last: last, Entries: own[:n]})
		own = own[n:]
		part++
		if last {
			return
		}
	}
}

func (a *clusterActor) tick() {
	if a.closed {
		return
	}
	c := a.c
	now := time.Now()
	hb := &registrypb.Heartbeat{Node: c.self, Epoch: c.epoch, Seq: a.seq}
	for _, p := range a.members {
		silent := now.Sub(p.lastHeard)
		switch {
		case p.live() && silent > c.cfg.timeout:
			a.drop(p, "heartbeat timeout") // kept and greeted: it may be cut off only
			a.dropConnections(p)
		case p.state == peerUp && silent > 2*c.cfg.interval && 2*c.cfg.interval < c.cfg.timeout:
			p.state = peerSuspect
			c.stats.redials.Add(1)
			c.log.Debug("etcp/registry: peer silent, redialling", slog.String("node", c.self),
				slog.String("peer", p.addr), slog.Duration("silent", silent))
			a.dropConnections(p)
			fallthrough
		case p.live():
			a.send(p, kindHeartbeat, hb)
			if p.syncing && now.Sub(p.syncSince) > c.cfg.timeout {
				a.sync(p) // the request or its answer was lost
			}
		case p.candidate:
			if now.Sub(p.candidateSince) > c.cfg.timeout {
				a.forget(p) // never answered itself
			}
		case now.Sub(p.lastHello) >= 5*c.cfg.interval: // down
			a.greetWhenListening(p)
		}
	}
	a.flush() // changes kept back by a failed kick, or by the test hook
	a.arm()
}
