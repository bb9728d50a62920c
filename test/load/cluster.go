package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage"
)

// The cluster scenario (`load cluster`): many connections across nodes.
//
//	go run ./test/load cluster -nodes 6 -conns 100000
//
// It starts -nodes echo servers (./examples/echo, or -echo CMD), each its
// own process with its own node (-manage), all in one cluster registry
// (-registry cluster -peers <the first node>), every connection named
// nI-ID (-name-conns nI). Holder processes (this binary, `load holder`),
// each below the descriptor limit and dialling from a source address of
// its own (127.0.0.10, .11, ...) so that ephemeral ports never run out,
// open -conns connections spread evenly over the nodes, one echo each.
// This process then joins the cluster as one more node and reports:
//
//   - the time to connect all, and until every name resolves here;
//   - each node's VmRSS growth per connection it serves (its registry also
//     holds every other node's names);
//   - the management endpoint's cluster-wide top-100 by bytes, a filter by
//     peer address and a sort by age, each across every node (what
//     `etcpctl -cluster top` asks), the median of five;
//   - -calls calls by name from this node to connections spread over every
//     node: how many answered with their own name, and their latency.
//
// Any connection that fails, name that does not resolve or call that does
// not answer fails the run. Each process must stay below RLIMIT_NOFILE
// (20,000 here): a node serves -conns/-nodes connections plus its own
// descriptors, which is why 100,000 connections take six nodes, not five.

// holderConns is the most connections one holder process opens.
const holderConns = 17000

// holderDials bounds the dials a holder has under way: six holders at 100
// each stay well inside a listener's accept backlog.
const holderDials = 100

// clusterConfig holds the cluster scenario's flags.
type clusterConfig struct {
	nodes, conns, calls int
	echo, echoArgs      string
	timeout             time.Duration
	stdout, stderr      io.Writer
}

// runClusterCmd is `load cluster ARGS`.
func runClusterCmd(args []string, stdout, stderr io.Writer) int {
	cfg := &clusterConfig{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("load cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.nodes, "nodes", 6, "echo server processes, each a node of the cluster")
	fs.IntVar(&cfg.conns, "conns", 100000, "connections, spread evenly over the nodes")
	fs.IntVar(&cfg.calls, "calls", 1000, "calls by name, spread over every node's connections")
	fs.StringVar(&cfg.echo, "echo", "", "the echo server command (default: build ./examples/echo)")
	fs.StringVar(&cfg.echoArgs, "echo-args", "", "extra arguments for every echo server (e.g. \"-idle-hibernate 1s\")")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "bound of the whole scenario")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, "load cluster:", err)
		return 2
	}
	if err := raiseNoFile(); err != nil {
		fmt.Fprintln(stderr, "load: warning: raising RLIMIT_NOFILE:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := runCluster(ctx, cfg); err != nil {
		fmt.Fprintln(stderr, "load cluster: FAIL:", err)
		return 1
	}
	return 0
}

// check validates the flags, descriptors included.
func (cfg *clusterConfig) check() error {
	switch {
	case cfg.nodes < 1:
		return errors.New("-nodes must be >= 1")
	case cfg.conns < cfg.nodes:
		return errors.New("-conns must be >= -nodes")
	case cfg.calls < 0:
		return errors.New("-calls must be >= 0")
	case cfg.timeout <= 0:
		return errors.New("-timeout must be > 0")
	}
	perNode := (cfg.conns + cfg.nodes - 1) / cfg.nodes
	if lim := noFileLimit(); lim != 0 && uint64(perNode)+512 > lim {
		return fmt.Errorf("%d connections per node need more descriptors than RLIMIT_NOFILE %d allows (%d + 512 spare): raise -nodes",
			perNode, lim, perNode)
	}
	return nil
}

// clusterNode is one echo server of the scenario.
type clusterNode struct {
	*server
	prefix string // its connections' names: prefix-ID
	manage string // its node's address
	conns  int    // connections it serves
}

// runCluster runs the scenario.
func runCluster(ctx context.Context, cfg *clusterConfig) (err error) {
	tmp, err := os.MkdirTemp("", "etcp-load-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	echo := strings.Fields(cfg.echo)
	if len(echo) == 0 {
		bin, err := buildGo(ctx, "", "./examples/echo", filepath.Join(tmp, "echo"), cfg.stderr)
		if err != nil {
			return err
		}
		echo = []string{bin}
	}

	// The nodes: the first, then the others joining it.
	nodes := make([]*clusterNode, cfg.nodes)
	// All at once, as a cluster is taken down: each exits on SIGTERM
	// within the grace, whoever else is still up. Deferred here for the
	// early returns, and again below so that the nodes stop before this
	// process's own node leaves (stopNodes stops them once).
	var stopErr error
	stopped := false
	stopNodes := func() {
		if stopped {
			return
		}
		stopped = true
		errs := make(chan error, len(nodes))
		for _, n := range nodes {
			go func() {
				if n != nil {
					errs <- n.stop()
					return
				}
				errs <- nil
			}()
		}
		for range nodes {
			stopErr = errors.Join(stopErr, <-errs)
		}
	}
	defer func() {
		stopNodes()
		err = errors.Join(err, stopErr)
	}()
	for i := range nodes {
		port, err := freePort()
		if err != nil {
			return err
		}
		n := &clusterNode{prefix: fmt.Sprintf("n%d", i+1), manage: fmt.Sprintf("127.0.0.1:%d", port),
			conns: cfg.conns / cfg.nodes}
		if i < cfg.conns%cfg.nodes {
			n.conns++
		}
		argv := append(slices.Clone(echo), "-addr", "127.0.0.1:0", "-manage", n.manage,
			"-registry", "cluster", "-name-conns", n.prefix, "-max-conns", "0")
		if i > 0 {
			argv = append(argv, "-peers", nodes[0].manage)
		}
		argv = append(argv, strings.Fields(cfg.echoArgs)...)
		if n.server, err = startServer(ctx, n.prefix, argv, time.Minute, nil); err != nil {
			return err
		}
		nodes[i] = n
	}

	// This process's node, in the same cluster.
	sys := actors.NewSystem(nil)
	defer sys.Shutdown()
	node, err := registry.StartNode(sys)
	if err != nil {
		return err
	}
	defer node.Shutdown()
	cl, err := registry.NewCluster(node, []string{nodes[0].manage})
	if err != nil {
		return err
	}
	defer cl.Close()
	registry.SetDefault(sys, cl)
	defer stopNodes()
	if err := await(ctx, "every node a member", func() bool {
		ms, err := cl.Members()
		return err == nil && len(ms) >= cfg.nodes
	}); err != nil {
		return err
	}
	fmt.Fprintf(cfg.stderr, "cluster: %d nodes up; opening %d connections\n", cfg.nodes, cfg.conns)
	// Memory is counted from here: what the nodes, their remote and the
	// cluster cost before any connection is not the connections'.
	for _, n := range nodes {
		n.readBaseRSS()
	}

	// The holders open the connections, timed from their start until
	// every name resolves on this node.
	t0 := time.Now()
	holders, err := startHolders(ctx, cfg, nodes)
	defer func() {
		for _, h := range holders {
			err = errors.Join(err, h.stop())
		}
		// The names go with the connections, while every node is up:
		// the nodes then stop with nothing left to tell each other.
		drain, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err = errors.Join(err, await(drain, "the names gone", func() bool { return cl.Len() == 0 }))
	}()
	if err != nil {
		return err
	}
	connected := time.Since(t0)
	if err := await(ctx, "every name resolvable on the caller's node", func() bool { return allNamed(cl, nodes) }); err != nil {
		return err
	}
	named := time.Since(t0)

	// Memory: each node's growth since it started, per connection it serves.
	var rss []string
	for _, n := range nodes {
		v, err := readRSS(n.pid())
		if err != nil {
			return err
		}
		rss = append(rss, fmt.Sprintf("%s %.0f", n.prefix, float64(v-n.baseRSS)/float64(n.conns)))
	}

	// The management endpoint's cluster-wide queries. They ask every
	// member, this node too: it answers read-only, with no connection.
	ep, err := manage.Enable(node)
	if err != nil {
		return err
	}
	defer ep.Close()
	mc, err := manage.Dial(ctx, node, nodes[0].manage)
	if err != nil {
		return err
	}
	queries := []struct {
		what string
		q    manage.Query
	}{
		{"top-100 by bytes", manage.Query{Sort: manage.SortBytes, Limit: 100}},
		{"top-100 by age", manage.Query{Sort: manage.SortAge, Limit: 100}},
		{"filtered by peer (one holder's address)", manage.Query{PeerPrefix: "127.0.0.10:", Limit: 100}},
	}
	var queryLines []string
	for _, q := range queries {
		var took []float64
		var last manage.ConnList
		for range 5 {
			t := time.Now()
			if last, err = mc.ClusterConns(ctx, q.q); err != nil {
				return fmt.Errorf("cluster conns %s: %w", q.what, err)
			}
			took = append(took, float64(time.Since(t).Microseconds())/1000)
		}
		if last.Total < cfg.conns {
			return fmt.Errorf("cluster conns %s: %d connections looked at, want at least %d", q.what, last.Total, cfg.conns)
		}
		s := summarize(took)
		queryLines = append(queryLines, fmt.Sprintf("%-42s %7.1f ms (min %.1f, max %.1f); %d looked at, %d matched",
			"cluster "+q.what, s.Median, s.Min, s.Max, last.Total, last.Matched))
	}

	// Calls by name, from this node to connections of every node.
	answered, lat, err := callByName(ctx, sys, nodes, cfg.calls)
	if err != nil {
		return err
	}

	w := cfg.stdout
	fmt.Fprintf(w, "cluster: %d nodes, %d connections (%d holder processes), echo %s\n",
		cfg.nodes, cfg.conns, len(holders), strings.Join(append(echo[1:], strings.Fields(cfg.echoArgs)...), " "))
	fmt.Fprintf(w, "%-42s %7.2f s\n", "connect all", connected.Seconds())
	fmt.Fprintf(w, "%-42s %7.2f s\n", "every name resolvable on another node", named.Seconds())
	fmt.Fprintf(w, "%-42s %s\n", "VmRSS growth per served connection (B)", strings.Join(rss, ", "))
	for _, l := range queryLines {
		fmt.Fprintln(w, l)
	}
	if cfg.calls > 0 {
		s := summarize(lat)
		fmt.Fprintf(w, "%-42s %d of %d answered; median %.2f ms (min %.2f, max %.2f)\n",
			"calls by name from another node", answered, cfg.calls, s.Median, s.Min, s.Max)
	}
	return nil
}

// allNamed reports whether every connection's name resolves in cl.
func allNamed(cl *registry.Cluster, nodes []*clusterNode) bool {
	for _, n := range nodes {
		for id := n.conns; id >= 1; id-- {
			if _, err := cl.Lookup(fmt.Sprintf("%s-%d", n.prefix, id)); err != nil {
				return false
			}
		}
	}
	return true
}

// callByName calls calls connections by name, spread over the nodes, and
// checks that each answers with its name; it returns how many did, and
// the latencies in ms.
func callByName(ctx context.Context, sys *actor.ActorSystem, nodes []*clusterNode, calls int) (int, []float64, error) {
	answered := 0
	var lat []float64
	for c := range calls {
		n := nodes[c%len(nodes)]
		name := fmt.Sprintf("%s-%d", n.prefix, 1+(c*7919)%n.conns)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		t := time.Now()
		got, err := client.Call(cctx, sys.Root, client.Name(name), "whoami")
		took := time.Since(t)
		cancel()
		if err != nil {
			return answered, lat, fmt.Errorf("call %s: %w", name, err)
		}
		if got != name {
			return answered, lat, fmt.Errorf("call %s: answered %v", name, got)
		}
		answered++
		lat = append(lat, float64(took.Microseconds())/1000)
	}
	return answered, lat, nil
}

// await polls cond every 10 ms until it holds or ctx ends.
func await(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// holder is one holder process.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// stop closes the holder's stdin, which makes it close its connections
// and exit, and waits for it.
func (h *holder) stop() error {
	_ = h.stdin.Close()
	select {
	case err := <-h.done:
		if err != nil {
			return fmt.Errorf("holder: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		return errors.New("holder: still running 30s after its stdin closed; killed")
	}
}

// startHolders starts the holder processes and waits until each holds its
// connections.
func startHolders(ctx context.Context, cfg *clusterConfig, nodes []*clusterNode) ([]*holder, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
	}
	k := (cfg.conns + holderConns - 1) / holderConns
	if k > 200 {
		return nil, fmt.Errorf("%d connections need %d holders; at most 200 source addresses", cfg.conns, k)
	}
	var holders []*holder
	held := make(chan error, k)
	for h := range k {
		first, count := h*cfg.conns/k, (h+1)*cfg.conns/k-h*cfg.conns/k
		cmd := exec.Command(self, "holder", "-addrs", strings.Join(addrs, ","), "-first", strconv.Itoa(first),
			"-n", strconv.Itoa(count), "-source", fmt.Sprintf("127.0.0.%d", 10+h))
		cmd.Stderr = cfg.stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return holders, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return holders, err
		}
		if err := cmd.Start(); err != nil {
			return holders, err
		}
		hd := &holder{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
		holders = append(holders, hd)
		go func() {
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err == nil && line != fmt.Sprintf("held %d\n", count) {
				err = fmt.Errorf("holder %d: %q", h, strings.TrimSpace(line))
			}
			held <- err
			_, _ = io.Copy(io.Discard, stdout)
			hd.done <- cmd.Wait()
		}()
	}
	for range holders {
		select {
		case err := <-held:
			if err != nil {
				return holders, err
			}
		case <-ctx.Done():
			return holders, ctx.Err()
		}
	}
	return holders, nil
}

// runHolderCmd is `load holder -addrs A,B -first I -n N -source IP`: it
// opens n connections, the i-th (counting from first) to addrs[i %
// len(addrs)], from the source address, echoes one byte on each, prints
// "held N", and holds them until its stdin closes.
func runHolderCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load holder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addrs := fs.String("addrs", "", "comma-separated server addresses")
	first := fs.Int("first", 0, "index of the first connection")
	n := fs.Int("n", 0, "connections to open")
	source := fs.String("source", "127.0.0.1", "source address")
	timeout := fs.Duration("timeout", 30*time.Second, "deadline of every dial and echo")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	list := strings.Split(*addrs, ",")
	if *addrs == "" || *n < 1 {
		fmt.Fprintln(stderr, "load holder: -addrs and -n are required")
		return 2
	}
	if err := raiseNoFile(); err != nil {
		fmt.Fprintln(stderr, "load holder: raising RLIMIT_NOFILE:", err)
	}
	local := &net.TCPAddr{IP: net.ParseIP(*source)}
	conns := make([]net.Conn, *n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	_, err := forEachConn(context.Background(), *n, holderDials, true, func(_, i int) error {
		c, err := dialFrom(list[(*first+i)%len(list)], local, *timeout)
		if err != nil {
			return err
		}
		conns[i] = c
		return exchange(c, []byte{'x'}, make([]byte, 1), *timeout)
	})
	if err != nil {
		fmt.Fprintln(stderr, "load holder:", err)
		return 1
	}
	fmt.Fprintf(stdout, "held %d\n", *n)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}
