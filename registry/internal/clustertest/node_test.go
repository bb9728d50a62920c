package clustertest

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/registry/internal/hooks"
	"github.com/etcp-go/etcp/registry/internal/nodetest"
)

// Environment of a node process.
const (
	envPeers    = "ETCP_TEST_PEERS"    // comma-separated seed addresses
	envHB       = "ETCP_TEST_HB"       // heartbeat interval, e.g. 100ms
	envTimeout  = "ETCP_TEST_TIMEOUT"  // heartbeat timeout
	envResolver = "ETCP_TEST_RESOLVER" // "older": the custom rule
)

// nodeServer is one cluster registry node, driven line by line.
func nodeServer() *nodetest.Server {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	regLog := discard
	if os.Getenv("ETCP_TEST_LOG") != "" {
		regLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond),
	)
	var (
		node     *registry.Node
		reg      *registry.Cluster
		lostMsgs atomic.Int64
		evMu     sync.Mutex
		events   = map[string][]string{}
		shared   *actor.PID
	)
	// A PID that counts the NameLost messages it gets.
	recorder := actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*registry.NameLost); ok {
			lostMsgs.Add(1)
		}
	})
	ms := func(s string) time.Duration { n, _ := strconv.Atoi(s); return time.Duration(n) * time.Millisecond }
	poll := func(timeout time.Duration, every time.Duration, ok func() bool) (time.Duration, bool) {
		start := time.Now()
		for {
			if ok() {
				return time.Since(start), true
			}
			if time.Since(start) > timeout {
				return time.Since(start), false
			}
			time.Sleep(every)
		}
	}
	countNode := func(addr string) int {
		es, _ := reg.Select(registry.Query{Node: addr})
		return len(es)
	}
	return &nodetest.Server{
		Init: func() string {
			var err error
			if node, err = registry.StartNode(sys, registry.WithConnectRetries(1)); err != nil {
				return "error " + err.Error()
			}
			var opts []registry.ClusterOption
			hb, _ := time.ParseDuration(os.Getenv(envHB))
			to, _ := time.ParseDuration(os.Getenv(envTimeout))
			if hb > 0 {
				opts = append(opts, registry.WithHeartbeat(hb, to))
			}
			if os.Getenv(envResolver) == "older" {
				opts = append(opts, registry.WithResolver(func(_ string, a, b registry.Entry) registry.Entry {
					if b.Registered.Before(a.Registered) {
						return b
					}
					return a
				}))
			}
			opts = append(opts, registry.WithNotifyLoser(), registry.WithClusterLogger(regLog))
			var peers []string
			if p := os.Getenv(envPeers); p != "" {
				peers = strings.Split(p, ",")
			}
			if reg, err = registry.NewCluster(node, peers, opts...); err != nil {
				return "error " + err.Error()
			}
			_, _ = reg.Subscribe(func(ev registry.Event) {
				evMu.Lock()
				events[ev.Entry.Name] = append(events[ev.Entry.Name], fmt.Sprintf("%v:%s:%v", ev.Kind, ev.Entry.Node, ev.Reason))
				evMu.Unlock()
			})
			shared = sys.Root.Spawn(recorder)
			return "ready " + node.Address()
		},
		Commands: map[string]nodetest.Handler{
			// reg NAME: register NAME for a new PID; replies with the
			// registration time.
			"reg": func(a []string) string {
				p := sys.Root.Spawn(recorder)
				if err := reg.Register(a[0], p, registry.Meta{Owner: "test"}); err != nil {
					return "error " + err.Error()
				}
				e, err := reg.Lookup(a[0])
				if err != nil {
					return "error " + err.Error()
				}
				return fmt.Sprint("ok ", e.Registered.UnixNano())
			},
			// regn PREFIX N: register PREFIX0..PREFIX(N-1) for one PID.
			"regn": func(a []string) string {
				n, _ := strconv.Atoi(a[1])
				start := time.Now()
				for i := range n {
					if err := reg.Register(a[0]+strconv.Itoa(i), shared, registry.Meta{Owner: "bulk", ConnID: uint64(i)}); err != nil {
						return "error " + err.Error()
					}
				}
				return fmt.Sprint("ok ", time.Since(start).Nanoseconds())
			},
			"unreg": func(a []string) string {
				e, err := reg.Lookup(a[0])
				if err == nil {
					err = reg.Unregister(a[0], e.PID)
				}
				if err != nil {
					return "error " + err.Error()
				}
				return "ok"
			},
			"lookup": func(a []string) string {
				e, err := reg.Lookup(a[0])
				if err != nil {
					return "notfound"
				}
				return fmt.Sprintf("found %s %s %d", e.Node, e.PID.Id, e.Registered.UnixNano())
			},
			// await NAME MS: poll until NAME is known; replies with the
			// time since its registration on its node.
			"await": func(a []string) string {
				var e registry.Entry
				_, ok := poll(ms(a[1]), 20*time.Microsecond, func() bool {
					var err error
					e, err = reg.Lookup(a[0])
					return err == nil
				})
				if !ok {
					return "timeout"
				}
				return fmt.Sprintf("found %s %d", e.Node, time.Since(e.Registered).Nanoseconds())
			},
			// awaitnode NAME NODE MS: poll until NAME is held by NODE.
			"awaitnode": func(a []string) string {
				d, ok := poll(ms(a[2]), 100*time.Microsecond, func() bool {
					e, err := reg.Lookup(a[0])
					return err == nil && e.Node == a[1]
				})
				if !ok {
					return "timeout"
				}
				return fmt.Sprint("ok ", d.Nanoseconds())
			},
			"awaitgone": func(a []string) string {
				d, ok := poll(ms(a[1]), 100*time.Microsecond, func() bool {
					_, err := reg.Lookup(a[0])
					return err != nil
				})
				if !ok {
					return "timeout"
				}
				return fmt.Sprint("gone ", d.Nanoseconds())
			},
			// awaitlen N MS: poll until this node knows N names.
			"awaitlen": func(a []string) string {
				n, _ := strconv.Atoi(a[0])
				d, ok := poll(ms(a[1]), time.Millisecond, func() bool { return reg.Len() == n })
				if !ok {
					return fmt.Sprint("timeout ", reg.Len())
				}
				return fmt.Sprint("ok ", d.Nanoseconds())
			},
			// awaitnodelen NODE N MS: poll until NODE holds N names here.
			"awaitnodelen": func(a []string) string {
				n, _ := strconv.Atoi(a[1])
				d, ok := poll(ms(a[2]), 200*time.Microsecond, func() bool { return countNode(a[0]) == n })
				if !ok {
					return fmt.Sprint("timeout ", countNode(a[0]))
				}
				return fmt.Sprint("ok ", d.Nanoseconds())
			},
			"hold":    func([]string) string { hooks.HoldDeltas.Store(true); return "ok" },
			"release": func([]string) string { hooks.HoldDeltas.Store(false); return "ok" },
			"addpeer": func(a []string) string {
				if err := reg.AddPeer(a[0]); err != nil {
					return "error " + err.Error()
				}
				return "ok"
			},
			"removepeer": func(a []string) string {
				if err := reg.RemovePeer(a[0]); err != nil {
					return "error " + err.Error()
				}
				return "ok"
			},
			"len": func([]string) string { return strconv.Itoa(reg.Len()) },
			// lookups NAME N: N lookups; replies with ns per lookup.
			"lookups": func(a []string) string {
				n, _ := strconv.Atoi(a[1])
				start := time.Now()
				for range n {
					_, _ = reg.Lookup(a[0])
				}
				return fmt.Sprint("ok ", time.Since(start).Nanoseconds()/int64(n))
			},
			// stats: messages sent except heartbeats, heartbeats, conflicts, nodes lost.
			"stats": func([]string) string {
				s := reg.Stats()
				return fmt.Sprintf("%d %d %d %d", s.Sent()-s.Heartbeats, s.Heartbeats, s.Conflicts, s.NodesLost)
			},
			"mem": func([]string) string {
				var m runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&m)
				return strconv.FormatUint(m.HeapAlloc, 10)
			},
			"events": func(a []string) string {
				evMu.Lock()
				defer evMu.Unlock()
				return "events " + strings.Join(events[a[0]], ",")
			},
			// refused: messages refused for their sender, for their
			// protocol, and the candidates being greeted now.
			"refused": func([]string) string {
				s := reg.Stats()
				return fmt.Sprintf("%d %d %d", s.RefusedSender, s.RefusedProtocol, s.Candidates)
			},
			"lostmsgs": func([]string) string { return strconv.FormatInt(lostMsgs.Load(), 10) },
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
		},
		// The process exits after Close without node.Shutdown: at the pin,
		// protoactor's remote shutdown writes fields its stream goroutines
		// read without synchronisation (endpointReader.suspended, the
		// endpoint manager's table), which the race detector reports in
		// a node with live peers. Graceful node shutdown is tested in
		// package registry. Peers learn of the exit from Leave and from
		// the closed connections.
		Close: func() { _ = reg.Close() },
	}
}
