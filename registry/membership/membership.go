// Package membership makes a [registry.Cluster] follow the membership of
// a protoactor cluster (github.com/asynkron/protoactor-go/cluster), so
// that the registry's peers are the cluster's members, whatever
// membership provider the cluster runs (etcd, Consul, Kubernetes,
// ZooKeeper, automanaged).
//
// The cluster stays the user's: this package never starts it
// (StartMember) nor shuts it down. It listens to the ClusterTopology
// events the cluster publishes on its actor system's event stream, adds
// every member that joins as a registry peer ([registry.Cluster.AddPeer])
// and removes every member that leaves ([registry.Cluster.RemovePeer]),
// whether it left cleanly or the provider dropped it (with etcd, when
// its lease expires).
//
// # Setup order
//
// A protoactor cluster member starts its own remote in StartMember, and
// cannot take one already started; a registry reaches a member at the
// member's address. So the registry's node and the member share one
// actor system and one remote, which StartMember starts with a config
// that carries the node's guard:
//
//  1. rcfg, err := registry.RemoteConfig(sys, nodeOptions...): the
//     options of registry.StartNode (listen address, cookie or mutual
//     TLS, roles), checked, and nothing started;
//  2. c := cluster.New(sys, cluster.Configure(name, provider, lookup, rcfg));
//  3. c.StartMember(): it starts the remote and joins the membership;
//  4. node, err := registry.AttachNode(sys): the node, guarded;
//  5. reg, err := registry.NewCluster(node, nil): no static peers;
//  6. f, err := Follow(c, reg): the members so far, then every change.
//
// A member's registry address is then the member's address
// (Member.Address, host:port), which is sys.Address() on that member.
// To stop: f.Stop(), reg.Close(), node.Shutdown() (it ends the streams
// from other nodes and leaves the remote to the cluster), then the
// cluster's Shutdown.
package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"

	"github.com/etcp-go/etcp/registry"
)

// ErrNotShared means the registry does not run on the cluster member's
// remote: its address is not the member's, so the member addresses the
// cluster reports would not reach the other registries.
var ErrNotShared = errors.New("etcp/registry/membership: the registry does not run on the cluster member's remote")

// A Follower keeps a registry's peers in step with a protoactor
// cluster's members until [Follower.Stop].
type Follower struct {
	c    *cluster.Cluster
	reg  *registry.Cluster
	self string
	log  *slog.Logger

	mu      sync.Mutex
	sub     *eventstream.Subscription
	stopped bool
}

// Follow makes reg follow c's membership: every current member of c and
// every member that joins later becomes a peer of reg, and every member
// that leaves is removed from reg (its names are dropped on this node at
// once, and it is ignored until it restarts with a new identity, as
// protoactor blocks a member that left). The cluster must be started
// (StartMember) and reg must run on its actor system's remote (see the
// package doc); otherwise Follow returns an error matching
// [registry.ErrInvalid] or [ErrNotShared].
//
// Follow adds the members it finds, then follows ClusterTopology events;
// a member that joins in between is added twice, which changes nothing.
func Follow(c *cluster.Cluster, reg *registry.Cluster) (*Follower, error) {
	if c == nil || reg == nil || c.ActorSystem == nil || c.MemberList == nil {
		return nil, fmt.Errorf("%w: nil cluster or registry", registry.ErrInvalid)
	}
	if c.Remote == nil {
		return nil, fmt.Errorf("%w: cluster not started (StartMember)", registry.ErrInvalid)
	}
	if addr := c.ActorSystem.Address(); addr != reg.Address() {
		return nil, fmt.Errorf("%w: registry at %s, cluster member at %s", ErrNotShared, reg.Address(), addr)
	}
	f := &Follower{c: c, reg: reg, self: reg.Address(), log: c.ActorSystem.Logger()}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Subscribe and a type check, not SubscribeWithPredicate: protoactor
	// sets the predicate after the subscription is published, a data
	// race with an event published meanwhile.
	f.sub = c.ActorSystem.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ClusterTopology); ok {
			f.apply(t)
		}
	})
	// MemberList.Members reads the member set without the list's lock
	// (protoactor's accessor); a member joining at this moment is also
	// in the event that follows.
	if ms := c.MemberList.Members(); ms != nil {
		for _, m := range ms.Members() {
			f.join(m)
		}
	}
	return f, nil
}

// apply applies one topology change. It runs in the goroutine that
// published it (the provider's, holding the member list's lock): AddPeer
// and RemovePeer only send to the registry actor.
func (f *Follower) apply(t *cluster.ClusterTopology) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	for _, m := range t.Left {
		if addr := m.Address(); addr != f.self {
			f.log.Debug("etcp/registry/membership: member left", slog.String("node", f.self), slog.String("member", addr))
			if err := f.reg.RemovePeer(addr); err != nil {
				f.log.Debug("etcp/registry/membership: removing a peer", slog.String("member", addr), slog.Any("error", err))
			}
		}
	}
	for _, m := range t.Joined {
		f.join(m)
	}
}

// join adds m as a peer, unless it is this node.
func (f *Follower) join(m *cluster.Member) {
	addr := m.Address()
	if addr == f.self {
		return
	}
	f.log.Debug("etcp/registry/membership: member joined", slog.String("node", f.self), slog.String("member", addr))
	if err := f.reg.AddPeer(addr); err != nil {
		// The registry is closed: nothing to follow for.
		f.log.Debug("etcp/registry/membership: adding a peer", slog.String("member", addr), slog.Any("error", err))
	}
}

// Stop stops following: the registry keeps the peers it has. Calling it
// again does nothing.
func (f *Follower) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	f.c.ActorSystem.EventStream.Unsubscribe(f.sub)
}
