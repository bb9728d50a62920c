package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/etcp-go/etcp/registry"
)

// -registry cluster: the node of -manage joins a cluster registry (package
// registry's Cluster) with the nodes at -peers, and connections register
// there, so that a name given by -name-conns resolves, and answers a call,
// from every node. The load tool's cluster scenario (test/load/cluster)
// runs several of these.

// joinCluster starts the cluster registry when reg asks for one, and
// checks that -registry and -peers agree.
func joinCluster(node *registry.Node, reg, peers string) (*registry.Cluster, error) {
	switch {
	case reg != "local" && reg != "none" && reg != "cluster":
		return nil, fmt.Errorf("-registry %q: want local, none or cluster", reg)
	case reg != "cluster" && peers != "":
		return nil, errors.New("-peers needs -registry cluster")
	case reg != "cluster":
		return nil, nil
	case node == nil:
		return nil, errors.New("-registry cluster needs -manage ADDR: the cluster runs on that node")
	}
	var list []string
	for _, p := range strings.Split(peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	cl, err := registry.NewCluster(node, list)
	if err != nil {
		return nil, fmt.Errorf("-registry cluster: %w", err)
	}
	return cl, nil
}
