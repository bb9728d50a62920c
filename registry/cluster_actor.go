package registry

import (
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/registry/internal/hooks"
	"github.com/etcp-go/etcp/registry/internal/registrypb"
)

// Local messages of the registry actor.
type (
	flushMsg   struct{}
	tickMsg    struct{}
	lostMsg    struct{ addr string }
	closeMsg   struct{}
	membersMsg struct{}
	peerMsg    struct {
		addr string
		add  bool
	}
)

// member is a peer as the registry actor keeps it.
type member struct {
	addr      string
	pid       *actor.PID // built for this node's actor system
	seed      bool
	up        bool
	epoch     uint64
	lastHeard time.Time
	lastHello time.Time
	applied   uint64 // seq of its last Delta applied here
	syncing   bool   // waiting for a Snapshot: its Deltas are dropped
	syncSince time.Time
	snap      map[string]struct{} // names of the Snapshot being received
}

// clusterActor owns membership and replication. Local registrations do
// not pass through it: they change the table directly and leave a
// pending change, which the actor sends in batches.
type clusterActor struct {
	c       *Cluster
	self    *actor.PID
	seeds   []string
	members map[string]*member
	removed map[string]uint64 // RemovePeer: address -> epoch ignored (0: any)
	seq     uint64            // Deltas sent by this incarnation
	timer   *time.Timer
	closed  bool
}

func (a *clusterActor) Receive(ctx actor.Context) {
	c := a.c
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self = ctx.Self()
		for _, s := range a.seeds {
			p := a.member(s)
			p.seed = true
			a.hello(p)
		}
		a.arm()
	case flushMsg:
		a.flush()
	case *tickMsg:
		a.tick()
	case *lostMsg:
		if p := a.members[m.addr]; p != nil && p.up {
			a.down(p, "connection lost")
		}
	case *peerMsg:
		switch p := a.members[m.addr]; {
		case m.add && m.addr != c.self && (p == nil || !p.seed):
			delete(a.removed, m.addr)
			p = a.member(m.addr)
			p.seed = true
			if !p.up {
				a.hello(p)
			}
		case !m.add:
			var epoch uint64
			if p != nil {
				epoch = p.epoch
				p.seed = false
				if p.up {
					a.down(p, "removed")
				} else {
					delete(a.members, p.addr)
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
			out = append(out, Member{Address: p.addr, Up: p.up, Seed: p.seed, LastHeard: p.lastHeard})
		}
		slices.SortFunc(out, func(x, y Member) int { return strings.Compare(x.Address, y.Address) })
		ctx.Respond(out)
	case *closeMsg:
		a.flush()
		for _, p := range a.members {
			if p.up {
				a.send(p, kindLeave, &registrypb.Leave{Node: c.self, Epoch: c.epoch})
			}
		}
		a.closed = true
		if a.timer != nil {
			a.timer.Stop()
		}
		ctx.Respond(true)

	case *registrypb.Hello:
		c.stats.received.Add(1)
		a.onHello(m.Node, m.Epoch, m.Members)
	case *registrypb.Heartbeat:
		c.stats.received.Add(1)
		a.onHeartbeat(m)
	case *registrypb.SyncRequest:
		c.stats.received.Add(1)
		a.known(m.Node, m.Epoch) // brings an unknown sender up first
		if p := a.members[m.Node]; p != nil && p.up && p.epoch == m.Epoch {
			a.snapshot(p)
		}
	case *registrypb.Snapshot:
		c.stats.received.Add(1)
		a.onSnapshot(m)
	case *registrypb.Delta:
		c.stats.received.Add(1)
		a.onDelta(m)
	case *registrypb.Leave:
		c.stats.received.Add(1)
		if p := a.members[m.Node]; p != nil && p.up && p.epoch == m.Epoch {
			a.down(p, "left")
		}
	}
}

func (a *clusterActor) member(addr string) *member {
	p := a.members[addr]
	if p == nil {
		p = &member{addr: addr, pid: a.c.node.PID(addr, a.c.id)}
		a.members[addr] = p
	}
	return p
}

func (a *clusterActor) send(p *member, kind int, msg proto.Message) {
	if a.closed {
		return
	}
	a.c.stats.sent[kind].Add(1)
	a.c.sys.Root.Send(p.pid, msg)
}

func (a *clusterActor) hello(p *member) {
	p.lastHello = time.Now()
	h := &registrypb.Hello{Protocol: protocolVersion, Node: a.c.self, Epoch: a.c.epoch}
	for _, q := range a.members {
		if q.up {
			h.Members = append(h.Members, q.addr)
		}
	}
	a.send(p, kindHello, h)
}

func (a *clusterActor) arm() {
	self, root := a.self, a.c.sys.Root
	a.timer = time.AfterFunc(a.c.cfg.interval, func() { root.Send(self, &tickMsg{}) })
}

// known returns the member at addr if it is up in incarnation epoch;
// otherwise it treats the message as a Hello from it and returns nil.
func (a *clusterActor) known(addr string, epoch uint64) *member {
	if p := a.members[addr]; p != nil && p.up && p.epoch == epoch {
		p.lastHeard = time.Now()
		return p
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
	p.lastHeard = time.Now()
	if !p.up || p.epoch != epoch {
		if p.up { // restarted: its old incarnation's names are gone
			a.drop(p, "restarted")
		}
		p.up, p.epoch, p.applied = true, epoch, 0
		c.log.Debug("etcp/registry: peer up", slog.String("node", c.self), slog.String("peer", addr))
		a.sync(p)
		a.hello(p)
	}
	for _, m := range members {
		if _, gone := a.removed[m]; m != c.self && a.members[m] == nil && !gone {
			a.hello(a.member(m))
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
	if p == nil || !p.up || p.epoch != m.Epoch {
		return
	}
	p.lastHeard, p.syncSince = time.Now(), time.Now()
	if m.Part == 0 || p.snap == nil {
		p.syncing = true
		p.snap = make(map[string]struct{}, len(m.Entries))
	}
	var lost []lostConflict
	for _, pe := range m.Entries {
		p.snap[pe.Name] = struct{}{}
		a.c.applyRegister(fromWire(p.addr, pe), &lost)
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
	for _, op := range m.Ops {
		pe := op.GetEntry()
		switch op.Kind {
		case registrypb.Op_KIND_REGISTER:
			a.c.applyRegister(fromWire(p.addr, pe), &lost)
		case registrypb.Op_KIND_UNREGISTER:
			a.c.applyUnregister(p.addr, pe.GetName(), pe.GetVersion())
		}
	}
	p.applied = m.Seq
	a.told(lost)
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
	p.up, p.syncing, p.snap, p.applied = false, false, nil, 0
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
			if p.up {
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
		switch {
		case p.up && now.Sub(p.lastHeard) > c.cfg.timeout:
			a.down(p, "heartbeat timeout")
		case p.up:
			a.send(p, kindHeartbeat, hb)
			if p.syncing && now.Sub(p.syncSince) > c.cfg.timeout {
				a.sync(p) // the request or its answer was lost
			}
		case p.seed && now.Sub(p.lastHello) >= 5*c.cfg.interval:
			a.hello(p)
		}
	}
	a.flush() // changes kept back by a failed kick, or by the test hook
	a.arm()
}
