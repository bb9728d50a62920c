package registry

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
)

// external is what a node whose remote a protoactor cluster starts
// (RemoteConfig) needs once it has started.
type external struct {
	readBack bool // listening on port 0 with no advertised address: the bound address is the one to listen on
}

// RemoteConfig prepares a node of sys for a protoactor cluster
// (github.com/asynkron/protoactor-go/cluster), whose StartMember starts a
// remote of its own and cannot take one already started. It takes the
// options of [StartNode], checks them as StartNode does, and returns the
// remote.Config to give cluster.Configure: it carries the node's guard
// (the recovering interceptors, the cookie's or mutual TLS's proof of
// every other node, the checks and stamps of [PeerOf]). Once StartMember
// has returned, [AttachNode] (sys) returns the node, guarded, to run a
// [Cluster] registry on; see package registry/membership for a registry
// that follows the cluster's members.
//
// The cluster owns the remote: [Node.Shutdown] of this node ends the
// streams from other nodes and leaves the remote to the cluster's
// Shutdown. Call it after closing the registry and before the cluster's
// Shutdown, which otherwise races with streams still reading (see
// [Node.Shutdown]).
func RemoteConfig(sys *actor.ActorSystem, opts ...NodeOption) (*remote.Config, error) {
	var cfg *remote.Config
	opts = append(opts, func(c *nodeConfig) { c.external = &cfg })
	if _, err := StartNode(sys, opts...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// prepare makes n the guarded node of its system whose remote will be
// started elsewhere with the config StartNode built.
func (n *Node) prepare(readBack bool, listen string) {
	n.owned = false
	n.ext = &external{readBack: readBack}
	n.listen = listen
	guarded.set(n.sys, n) // the guard is in cfg: it proves every stream from the start
}

// attach completes a node from RemoteConfig once its remote r runs.
// Attaching again returns the same node.
func (n *Node) attach(r *remote.Remote) (*Node, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("%w: node of %s", ErrClosed, n.sys.Address())
	}
	if n.remote != nil {
		return n, nil
	}
	n.remote = r
	n.addr = n.sys.Address()
	if n.ext.readBack {
		n.listen = n.addr
	}
	n.subscribe() // its events take n.mu in another goroutine, later
	return n, nil
}
