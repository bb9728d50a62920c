package membership_test

import (
	"log"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/registry/membership"
)

// A cluster registry on a protoactor cluster whose members etcd keeps,
// in the order the setup needs. (It needs an etcd on 127.0.0.1:2379, so
// it is compiled, not run; TestFollowEtcd runs the same setup.)
func ExampleFollow() {
	sys := actor.NewActorSystem()

	// 1. The remote's config, with the registry node's guard: the
	// options of registry.StartNode (here its defaults: 127.0.0.1, a
	// free port, the user's cookie).
	rcfg, err := registry.RemoteConfig(sys)
	if err != nil {
		log.Fatal(err)
	}
	// 2. The cluster, the user's, on that config, with any provider.
	provider, err := etcd.NewWithConfig("/myapp", clientv3.Config{
		Endpoints:   []string{"127.0.0.1:2379"},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	c := cluster.New(sys, cluster.Configure("myapp", provider, disthash.New(), rcfg))
	// 3. StartMember starts the remote and joins (it panics on error).
	c.StartMember()
	// 4. The registry's node is that remote, guarded.
	node, err := registry.AttachNode(sys)
	if err != nil {
		log.Fatal(err)
	}
	// 5. A cluster registry with no static peers, the system's default
	// (before any server, pool or client starts).
	reg, err := registry.NewCluster(node, nil)
	if err != nil {
		log.Fatal(err)
	}
	registry.SetDefault(sys, reg)
	// 6. Its peers are the cluster's members, from now on.
	f, err := membership.Follow(c, reg)
	if err != nil {
		log.Fatal(err)
	}

	// ... servers, pools, clients; client.Name("device-42") resolves
	// names of every member.

	// Stopping, in this order.
	f.Stop()
	_ = reg.Close()
	node.Shutdown()
	c.Shutdown(true)
}
