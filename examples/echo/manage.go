package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
)

// -manage ADDR: the management endpoint (package server/manage) on a
// protoactor remote node at ADDR, actions allowed, so that etcpctl -node
// ADDR lists, inspects, stops, traces and drains. ADDR must be a loopback
// address: the endpoint without mutual TLS answers anyone who reaches it.

// checkManage refuses a -manage address that is not loopback.
func checkManage(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-manage %q: %w", addr, err)
	}
	if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
		return fmt.Errorf("-manage %q: the endpoint serves loopback only (127.0.0.1, ::1, localhost)", addr)
	}
	return nil
}

// startNode starts the node of -manage, before the server: protoactor
// remote sets the actor system's address when it starts, which
// connections already spawning would read unsynchronised.
func startNode(sys *actor.ActorSystem, addr string) (*registry.Node, error) {
	if addr == "" {
		return nil, nil
	}
	return registry.StartNode(sys, registry.WithListen(addr))
}

// serveManage turns the endpoint on, managing srv (and answering for
// the nodes of cl, if any), prints "manage ADDR"
// with the node's address, and returns what turns it off and stops the
// node.
func serveManage(node *registry.Node, srv *server.Server, cl *registry.Cluster, stdout io.Writer) (stop func(), err error) {
	opts := []manage.Option{manage.WithServers(srv), manage.WithActions()}
	if cl != nil {
		opts = append(opts, manage.WithCluster(cl)) // the cluster-wide verbs (etcpctl -cluster)
	}
	ep, err := manage.Enable(node, opts...)
	if err != nil {
		node.Shutdown()
		return nil, errors.Join(errors.New("-manage"), err)
	}
	fmt.Fprintf(stdout, "manage %s\n", node.Address())
	return func() {
		_ = ep.Close()
		node.Shutdown()
	}, nil
}
