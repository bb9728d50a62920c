package membership_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/registry/internal/nodetest"
	"github.com/etcp-go/etcp/registry/membership"
)

// Environment of a member process.
const (
	envEtcd   = "ETCP_TEST_ETCD"        // etcd's client endpoint, host:port
	envPrefix = "ETCP_TEST_ETCD_PREFIX" // the etcd provider's base key
	envCookie = "ETCP_TEST_COOKIE"      // the nodes' cookie
	envPeer   = "ETCP_TEST_PEER"        // outsider: the registry peer it tries
)

// clusterName is the protoactor cluster the members join.
const clusterName = "etcp-test"

// Registry heartbeats: every 100 ms, and a peer is taken for lost only
// after a minute of silence, so that within the tests' bounds only the
// membership (or a broken connection) can drop a node's names.
const (
	regHeartbeat = 100 * time.Millisecond
	regTimeout   = time.Minute
)

// startMember runs StartMember, which panics on any error.
func startMember(c *cluster.Cluster) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("StartMember: %v", p)
		}
	}()
	c.StartMember()
	return nil
}

// notShared checks that Follow refuses a registry on another remote
// than the member's.
func notShared(c *cluster.Cluster) error {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	node, err := registry.StartNode(sys, registry.WithCookie(os.Getenv(envCookie)))
	if err != nil {
		return err
	}
	defer node.Shutdown()
	reg, err := registry.NewCluster(node, nil)
	if err != nil {
		return err
	}
	defer reg.Close()
	if f, err := membership.Follow(c, reg); !errors.Is(err, membership.ErrNotShared) {
		if f != nil {
			f.Stop()
		}
		return fmt.Errorf("Follow with a registry on another remote: %v, want ErrNotShared", err)
	}
	return nil
}

// memberServer is one protoactor cluster member over etcd, with a
// registry that follows its membership, driven line by line.
func memberServer() *nodetest.Server {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("ETCP_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	var (
		c        *cluster.Cluster
		node     *registry.Node
		reg      *registry.Cluster
		follow   *membership.Follower
		mu       sync.Mutex
		left     = map[string]bool{} // members this node saw leave
		leaving  atomic.Bool
		shutDown = make(chan struct{}) // closed once "leave" has shut the member down
	)
	recorder := actor.PropsFromFunc(func(actor.Context) {})
	return &nodetest.Server{
		Init: func() string {
			provider, err := etcd.NewWithConfig(os.Getenv(envPrefix), clientv3.Config{
				Endpoints:   []string{os.Getenv(envEtcd)},
				DialTimeout: 5 * time.Second,
			})
			if err != nil {
				return "error " + err.Error()
			}
			// 1. The remote's config, with the registry node's guard
			// (loopback, a free port, the cookie).
			rcfg, err := registry.RemoteConfig(sys, registry.WithCookie(os.Getenv(envCookie)))
			if err != nil {
				return "error " + err.Error()
			}
			// 2. The cluster, on that config.
			c = cluster.New(sys, cluster.Configure(clusterName, provider, disthash.New(), rcfg))
			sys.EventStream.Subscribe(func(ev any) {
				if t, ok := ev.(*cluster.ClusterTopology); ok {
					mu.Lock()
					for _, m := range t.Left {
						left[m.Address()] = true
					}
					mu.Unlock()
				}
			})
			// 3. StartMember starts the remote and joins.
			if err := startMember(c); err != nil {
				return "error " + err.Error()
			}
			// 4. The registry's node is the remote StartMember started.
			if node, err = registry.AttachNode(sys); err != nil {
				return "error " + err.Error()
			}
			if !registry.Guarded(sys) {
				return "error the node is not guarded"
			}
			// 5. A registry without static peers.
			if reg, err = registry.NewCluster(node, nil, registry.WithHeartbeat(regHeartbeat, regTimeout),
				registry.WithClusterLogger(logger)); err != nil {
				return "error " + err.Error()
			}
			// 6. Its peers are the cluster's members.
			if follow, err = membership.Follow(c, reg); err != nil {
				return "error " + err.Error()
			}
			if err := notShared(c); err != nil {
				return "error " + err.Error()
			}
			return "ready " + node.Address()
		},
		Commands: map[string]nodetest.Handler{
			// reg NAME: register NAME for a new actor of this node.
			"reg": func(a []string) string {
				if err := reg.Register(a[0], sys.Root.Spawn(recorder), registry.Meta{Owner: "test"}); err != nil {
					return "error " + err.Error()
				}
				return "ok"
			},
			// lookup NAME: "found NODE", or "notfound".
			"lookup": func(a []string) string {
				e, err := reg.Lookup(a[0])
				if err != nil {
					return "notfound"
				}
				return "found " + e.Node
			},
			// members: the registry's peers, ADDRESS:UP, sorted.
			"members": func([]string) string {
				ms, err := reg.Members()
				if err != nil {
					return "error " + err.Error()
				}
				var out []string
				for _, m := range ms {
					out = append(out, fmt.Sprintf("%s:%v", m.Address, m.Up))
				}
				return "members " + strings.Join(out, ",")
			},
			// left ADDR: whether the cluster told this node ADDR left.
			"left": func(a []string) string {
				mu.Lock()
				defer mu.Unlock()
				return fmt.Sprint(left[a[0]])
			},
			// refused: messages from proven nodes the guard dropped.
			"refused": func([]string) string { return fmt.Sprint(node.Stats().Refused) },
			// received: messages the registry received from peers.
			"received": func([]string) string { return fmt.Sprint(reg.Stats().Received) },
			// unauthenticated: connections and streams the guard refused
			// for want of proof.
			"unauthenticated": func([]string) string { return fmt.Sprint(node.Stats().Unauthenticated) },
			// leave: this member leaves the cluster cleanly, as a user
			// shuts a member down (the provider deletes its key from
			// etcd first, and the remote goes 2 s later), in the
			// background: "quit" waits for it. The registry is not
			// closed first, so the other nodes drop its names from the
			// membership, not from the registry's own Leave.
			"leave": func([]string) string {
				follow.Stop()
				leaving.Store(true)
				go func() {
					defer close(shutDown)
					c.Shutdown(true)
				}()
				return "leaving"
			},
		},
		Close: func() {
			if leaving.Load() {
				<-shutDown
			}
		},
	}
}

// outsiderServer is a registry node that is no cluster member and does
// not know the members' cookie: it names a member as its peer and
// registers a name there.
func outsiderServer() *nodetest.Server {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	var reg *registry.Cluster
	return &nodetest.Server{
		Init: func() string {
			node, err := registry.StartNode(sys, registry.WithCookie(os.Getenv(envCookie)), registry.WithConnectRetries(1))
			if err != nil {
				return "error " + err.Error()
			}
			if reg, err = registry.NewCluster(node, []string{os.Getenv(envPeer)}, registry.WithHeartbeat(regHeartbeat, regTimeout)); err != nil {
				return "error " + err.Error()
			}
			if err := reg.Register("intruder", sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {})), registry.Meta{}); err != nil {
				return "error " + err.Error()
			}
			return "ready " + node.Address()
		},
	}
}
