// Package registry keeps connection PIDs under names, as etcp kept them
// in ETS or Mnesia: one [Registry] interface, and kinds to choose from.
// Servers, pools and clients register every connection in one (by
// default a [Local] registry), and a connection may also be registered
// under a name its handler picks, in the same registry or in a cluster
// one.
//
// # Kinds
//
//   - [Local] ([NewLocal]): in-process and fast, the default. Every
//     connection of a server can live in it: it is registered when it
//     starts (under its PID's id) and removed when it ends, and found by
//     name, by owner ([ByOwner]: a server's Connections) or by peer
//     address ([ByPeer]), or by tag ([ByTag]).
//   - None ([None]): keeps nothing. Register and Unregister succeed and
//     forget; Lookup, Select and Subscribe return [ErrNoRegistry], which
//     is what a server started without a registry reports from
//     Connections (etcp's no_process_registry).
//   - Via: any type of the user's that implements [Registry] is taken
//     wherever a Registry is (etcp's {via, M, T}).
//   - [Cluster] ([NewCluster]): names unique across a set of nodes,
//     looked up on every node at memory speed. It runs on a [Node].
//
// # Scopes
//
// A name's scope is the registry it is registered in. A name in a Local
// registry is unique in that registry only; a name in a Cluster is unique
// across every node of the cluster with the same [WithScope] (several
// clusters can share nodes). The same PID may hold names in several
// registries, and several names in one.
//
// # Events
//
// Subscribe calls a function for every name registered or unregistered,
// exactly once, from a goroutine of the subscription's own, in the order
// the changes were made for any one name; a slow subscriber delays no
// one (its queue grows). In a Cluster, names of other nodes arrive as
// they are replicated, and [Event].Reason tells a name lost to a conflict
// ([ReasonConflict]) or to its node's loss ([ReasonNodeDown]).
//
// # The cluster registry
//
// It follows Erlang's syn. Every node is the authority for the names of
// its own PIDs: Register and Unregister change its copy at once and the
// change is sent to every peer in numbered batches over protoactor
// remote (protobuf messages, package etcp.registry.v1). Every node keeps
// a full copy, so Lookup and Select never leave the process: they send
// nothing (the tests count) and cost what they cost in a Local registry.
// A node that joins or restarts is sent every peer's names (a snapshot);
// a node that sees a gap in a peer's numbering asks for a new snapshot.
// Membership starts from the peer addresses given to NewCluster; members
// tell each other of the members they know, so every node ends up
// talking to every other. The model chooses availability: a name is
// registered on its node at once and reaches the others within a
// fraction of a millisecond on a LAN (measured below), so two nodes can
// register one name at the same moment.
//
// # Membership
//
// Membership starts from the peer addresses given to [NewCluster], and
// [Cluster.AddPeer] and [Cluster.RemovePeer] change it at run time. A
// user who runs a protoactor cluster lets package registry/membership
// feed its topology to them (this package does not import protoactor's
// cluster package): the node then runs on the cluster's remote, started
// by StartMember with the config of [RemoteConfig], and its peers are
// the cluster's members, whatever provider finds them.
//
// # The conflict rule
//
// When two nodes registered one name before either heard of the other,
// every node that sees both keeps the same one: the newer registration
// (the later registration time), then, at equal times, the one of the
// greater node address, then the greater registration number. Newer
// wins, as in syn: the usual cause is a device that reconnected to
// another node while its old connection has not yet noticed it is dead,
// and the new connection is the live one. [WithResolver] replaces the
// rule; it is given both registrations in the same order on every node
// and must decide from them alone. The node whose PID lost removes the
// name, tells the other nodes, gives its subscribers an Unregistered
// event with [ReasonConflict] and, with [WithNotifyLoser], sends a
// [NameLost] message to the PID.
//
// A registration's time is taken on the node that registered it, but a
// peer's clock cannot push it past the moment it arrives: every node
// takes another node's registration as made at the earlier of the time
// that node claims and the time this node first heard of it, and keeps
// that time for as long as it knows the registration (a Snapshot that
// sends it again, or a registration that lost a conflict here and comes
// back, keeps the time it had). A time in the future therefore counts as
// the moment it arrived: it cannot beat a registration made after that,
// nor win it back by being sent again. With clocks in step to within the
// replication delay (NTP on a LAN) the rule changes nothing, since a
// registration always arrives after it was made. Between the two nodes
// that registered one name the outcome is always the one the claimed
// times give, since each heard of the other's registration after making
// its own: a clock that runs ahead still wins the conflicts it takes
// part in against registrations made before its own arrived (in
// practice, within the replication delay), so keep clocks in sync. A
// third node decides alike unless a clock is off by more than the
// replication delay; when it decided otherwise, the losing node's
// unregistration tells it so, and it fetches the winner's registration
// again.
//
// What the rule does not stop: a node that registers a name it knows is
// taken, with an honest time, wins under "newer wins", as in syn. Nodes
// are trusted to register their own names only through Register; what
// keeps an outsider from speaking for a node is the next section.
//
// # Who may say what
//
// A message of the registry's protocol is applied only if it comes from
// the node it speaks for: its sender (every registry actor sends with
// itself as the sender) must be a PID of that node's address, the node
// field of the message. [Node]'s remote setup guarantees that a sender
// PID names the authenticated node that sent the message. The names of
// a Snapshot or a Delta are the sender's own: an entry carries no node,
// it is attributed to the node that sent it, so no node can place or
// remove another node's names. A Hello of another protocol version is
// refused, and its sender is not brought up. Refused messages are counted
// ([ClusterStats].RefusedSender, RefusedProtocol) and logged at warn
// level once a minute per sender address.
//
// A member listed in another member's Hello is only a candidate: it is
// greeted, but it becomes a member (listed by [Cluster.Members], sent
// names, its names accepted) only when it introduces itself, and is
// forgotten if it stays silent for the heartbeat timeout. At most 256
// candidates are greeted at one time.
//
// # Losing a node
//
// A node's names are dropped on every other node when:
//   - its process ends: protoactor reports the lost endpoint
//     (EndpointTerminatedEvent), a probe of its address is refused, and
//     the names go at once; measured 2-25 ms after kill -9 on loopback,
//     under load. (A lost connection alone is not enough: protoactor
//     reports one for every connection dropped below, and late ones for
//     connections that failed; a probe that is answered, or not within a
//     heartbeat interval, leaves the decision to the timeout);
//   - it closes ([Cluster.Close] sends Leave): at once;
//   - it stops answering without its connections breaking (a frozen
//     process, a partition): after the heartbeat timeout (measured by
//     freezing a node with SIGSTOP, with a 1 s timeout and 100 ms
//     heartbeats: 1.00-1.10 s).
//
// The bound is heartbeat timeout + heartbeat interval: with the defaults
// ([DefaultHeartbeatTimeout] 3 s, [DefaultHeartbeat] 1 s), 4 s after the
// node last spoke. A node taken for lost by the timeout is kept and
// greeted every five heartbeat intervals (until a probe of its address
// is refused), and synced again as soon as it is heard from.
//
// # Partitions
//
// Protoactor remote sends to a peer over one long-lived gRPC stream and
// checks nothing: across a network that drops packets, TCP retransmits
// with a backoff that doubles (to 27 s after a 30 s cut), and everything
// sent later waits behind it. So liveness is the heartbeat's, and a
// stream is never trusted past it; on a node from [StartNode]:
//   - a peer silent for two heartbeat intervals (when that is shorter
//     than the timeout) is suspect: the connections this node dialled to
//     it are closed, so the next heartbeat dials afresh; its names stay;
//   - a peer silent for the timeout is lost: its names are dropped and
//     its connections closed again;
//   - a dial that gets no answer is made again every heartbeat interval
//     (one SYN per interval, not TCP's backoff of 1, 3, 7, 15 s), for up
//     to a minute per protoactor connection attempt.
//
// The bounds: a cut shorter than the heartbeat timeout minus one
// interval loses nothing (the peer is redialled and heard again before
// the timeout; subscribers see no event); after a longer cut, each side
// is greeted by the other within one heartbeat interval of the heal, and
// the names converge by the conflict rule, every loser told once. The
// partition test (test/netns, TestPartitionHeals: three nodes on a
// bridge in network namespaces, 400 ms heartbeats, 3 s timeout) asserts
// convergence within ten heartbeat intervals (two greeting retries) of
// the heal of a 30 s cut, and measured 0.75-1.25 s (15 runs, with a
// busy loop holding one core of a loaded 2-core machine); before, names
// came back 29-30 s after the heal. Closing a
// peer's connections makes protoactor report its endpoint lost, as a
// broken connection does: watchers of that peer's actors get
// Terminated (AddressTerminated), and other registries on this node
// probe the peer (and keep its names if it answers). A node of the
// user's own remote ([AttachNode]) dials with the user's options: its
// recovery is bounded by TCP's backoff, not by the heartbeat.
//
// # Remote, safely
//
// [StartNode] is the one way the library starts protoactor remote. It
// listens on 127.0.0.1 and a free port unless told otherwise, returns an
// error for a taken address where remote.Start panics, and installs
// recovering gRPC interceptors first: at the pinned protoactor, a message
// of a type the receiver does not know would otherwise end the process.
// [RemoteConfig] builds the same setup for a remote that a protoactor
// cluster's StartMember starts, and [AttachNode] then returns its node.
//
// # Nodes that prove who they are
//
// Protoactor remote authenticates nothing; a node from StartNode does:
//   - Another node proves itself before it is heard: with [WithMutualTLS],
//     by a certificate that names it (an etcp://host:port URI SAN,
//     [NodeURI], or DNS and IP SANs covering its host); without, by
//     knowing the cookie ([WithCookie], [DefaultCookie]), proven by a
//     challenge and response in which the cookie never crosses the wire.
//     A node that cannot is counted in [NodeStats].Unauthenticated.
//   - Beyond loopback StartNode requires mutual TLS ([ErrInsecure]).
//   - The guard checks every message from a proven node before
//     protoactor delivers it (a sender PID on another node, protoactor's
//     Stop, PoisonPill and remote spawns without [RoleControl], a Watch
//     for a watcher elsewhere: dropped, counted in [NodeStats].Refused),
//     and stamps the rest with the node and its roles ([WithRoles],
//     [Roles]).
//   - Whoever holds power checks the stamp: connection actors (sending
//     needs [RoleSend], stopping [RoleControl]), the management endpoint,
//     the cluster registry (a peer speaks only for itself), and actors of
//     the user's own with [PeerOf] and [Allow]. Refusals match
//     [ErrForbidden].
//
// A remote the user starts ([AttachNode]) has no guard ([Guarded] is
// false): protect it with gRPC options of your own, for instance
// [CookieCredentials].
//
// # Errors every package shares
//
// A few sentinels mean the same in every package of the module and are
// defined once, here or in package transport; the other packages re-export
// them under their own names, so errors.Is holds across packages:
//
//   - [ErrClosed]: a connection, server, pool, cluster or node has ended
//     (actors.ErrClosed, server.ErrClosed, pool.ErrClosed and
//     manage.ErrClosed are it; server.ErrServerClosed and
//     pool.ErrClosedPool are its deprecated old names);
//   - [ErrNameTaken]: a name is held (server.ErrNameTaken and
//     pool.ErrNameTaken are it);
//   - [ErrAddrInUse]: an address is taken (server.ErrAddrInUse is it);
//   - transport.ErrInvalidOptions: a bad option (actors, server, client
//     and pool re-export it as their ErrInvalidOptions).
//
// The error wrapping one says what ended, which name or which address,
// once: wrapping layers do not repeat a prefix, an address or "invalid
// options".
//
// # Costs
//
// Measured on a 2-core VM shared with other builds (figures vary by
// ±30% from run to run; ratios hold better):
//
//   - Local Lookup with 100,000 names: 86-125 ns, 0 allocations
//     (BenchmarkLocalLookup; 160-270 ns while the machine ran other
//     builds at a load of 6). A plain Go map of the same names behind one
//     RWMutex, copying the entry out, measures 43-60 ns in the same runs
//     (BenchmarkMapBaselineLookup): sharding, the index probe and
//     building the Entry cost the rest. Most of either is cache misses:
//     100,000 entries do not fit in cache.
//   - Local Register+Unregister of a connection entry: 330-490 ns,
//     1 allocation (the 208-byte entry).
//   - Local memory: about 300 bytes per connection entry at 100,000
//     entries with distinct peer addresses, 245 when they share one
//     (TestLocalMemory, live heap after GC).
//   - Cluster (one process per node, loopback): a name registered on one
//     node is visible on another after 0.1-5 ms (medians 0.16-0.34 ms over
//     20 names; about 1 ms under the race detector); 100,000 names
//     registered across 3 nodes at once are resolvable on every node
//     after 0.7-1.2 s; each node then holds 520-560 bytes per name (the
//     entry, its cluster fields and, for other nodes' names, a PID).
//     Lookups on a Cluster cost what they cost on a Local registry.
package registry
