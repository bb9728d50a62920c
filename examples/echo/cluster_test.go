package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/registry"
)

// envClusterCaller makes the test binary a node that joins the cluster of
// the node at the variable's value, waits for the name "a-1", calls it,
// prints the reply and exits.
const envClusterCaller = "ECHO_TEST_CLUSTER_CALLER"

func init() {
	addr := os.Getenv(envClusterCaller)
	if addr == "" {
		return
	}
	reply, err := callByName(addr, "a-1")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("reply", reply)
	os.Exit(0)
}

// callByName joins the cluster at addr and calls the connection named
// name once its name has reached this node.
func callByName(addr, name string) (any, error) {
	sys := actors.NewSystem(nil)
	node, err := registry.StartNode(sys)
	if err != nil {
		return nil, err
	}
	defer node.Shutdown()
	cl, err := registry.NewCluster(node, []string{addr})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	registry.SetDefault(sys, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if _, err := cl.Lookup(name); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%q never reached this node: %w", name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return client.Call(ctx, sys.Root, client.Name(name), "whoami")
}

// -registry and -peers are checked before anything starts.
func TestClusterFlags(t *testing.T) {
	for args, want := range map[string]string{
		"-registry cluster":                          "needs -manage",
		"-peers 127.0.0.1:1":                         "-peers needs -registry cluster",
		"-registry elsewhere":                        "want local, none or cluster",
		"-registry none -peers 127.0.0.1:1":          "-peers needs -registry cluster",
		"-registry cluster -manage 10.0.0.1:7101":    "loopback",
		"-registry cluster -manage 127.0.0.1:0 -x 1": "flag provided but not defined",
	} {
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, strings.Fields(args)...), io.Discard, io.Discard)
		assert.ErrorContains(t, err, want, args)
	}
}

// With -registry cluster and -name-conns, a connection is registered in
// the cluster and answers a Call by its name from a node in another
// process.
func TestNamedConnectionsAcrossNodes(t *testing.T) {
	if alone(t) {
		return
	}
	lines, stop := startEcho(t, "-addr", "127.0.0.1:0", "-grace", "100ms", "-manage", "127.0.0.1:0",
		"-registry", "cluster", "-name-conns", "a")
	require.Contains(t, lines, "manage", "%v", lines)
	peer, err := net.Dial("tcp", lines["listening"])
	require.NoError(t, err)
	defer peer.Close()
	_, err = peer.Write([]byte("x"))
	require.NoError(t, err)
	_, err = io.ReadFull(peer, make([]byte, 1))
	require.NoError(t, err, "the connection is up (and named a-1)")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envClusterCaller+"="+lines["manage"], "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "reply a-1\n")
	require.NoError(t, stop())
}
