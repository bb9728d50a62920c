package clustertest

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/registry/internal/nodetest"
	"github.com/etcp-go/etcp/registry/internal/registrypb"
)

// registryID is the registry actor's id in the default scope.
const registryID = "etcp.registry." + registry.DefaultScope

// attackerServer is a node that runs no registry: it speaks the
// registry's protocol by hand, with forged fields, to the registry
// actors of other nodes. Its messages carry the sender it is told to put:
// "self" (a PID of its own address, what an authenticated transport
// leaves it), "none", or an address. NODE "self" is its own address. A
// registration time is "future" (a year ahead), "now", or Unix
// nanoseconds.
func attackerServer() *nodetest.Server {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond),
	)
	var (
		node *registry.Node
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	addr := func(s string) string {
		if s == "self" {
			return node.Address()
		}
		return s
	}
	send := func(to, from string, msg proto.Message) {
		var sender *actor.PID
		if from != "none" {
			sender = actor.NewPID(addr(from), registryID)
		}
		sys.Root.RequestWithCustomSender(actor.NewPID(to, registryID), msg, sender)
	}
	u64 := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	regTime := func(s string) int64 {
		switch s {
		case "future":
			return time.Now().Add(365 * 24 * time.Hour).UnixNano()
		case "now":
			return time.Now().UnixNano()
		}
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	entries := func(a []string) []*registrypb.Entry {
		var out []*registrypb.Entry
		for i := 0; i+1 < len(a); i += 2 {
			out = append(out, &registrypb.Entry{Name: a[i], PidId: "forged-" + a[i], Owner: "attacker",
				RegisteredUnixNano: regTime(a[i+1]), Version: 1})
		}
		return out
	}
	return &nodetest.Server{
		Init: func() string {
			var err error
			if node, err = registry.StartNode(sys, registry.WithConnectRetries(1)); err != nil {
				return "error " + err.Error()
			}
			return "ready " + node.Address()
		},
		Commands: map[string]nodetest.Handler{
			// hello TO FROM NODE EPOCH PROTOCOL [MEMBER...]; a member
			// "fake:N" stands for 127.0.0.1:1 to 127.0.0.1:N.
			"hello": func(a []string) string {
				h := &registrypb.Hello{Node: addr(a[2]), Epoch: u64(a[3]), Protocol: uint32(u64(a[4]))}
				for _, m := range a[5:] {
					if n, err := strconv.Atoi(m[min(len(m), 5):]); m[:min(len(m), 5)] == "fake:" && err == nil {
						for i := 1; i <= n; i++ {
							h.Members = append(h.Members, fmt.Sprint("127.0.0.1:", i))
						}
						continue
					}
					h.Members = append(h.Members, m)
				}
				send(a[0], a[1], h)
				return "ok"
			},
			// snapshot TO FROM NODE EPOCH [NAME TIME...]: one part, the last.
			"snapshot": func(a []string) string {
				send(a[0], a[1], &registrypb.Snapshot{Node: addr(a[2]), Epoch: u64(a[3]), Last: true, Entries: entries(a[4:])})
				return "ok"
			},
			// delta TO FROM NODE EPOCH SEQ [NAME TIME...]: registrations.
			"delta": func(a []string) string {
				d := &registrypb.Delta{Node: addr(a[2]), Epoch: u64(a[3]), Seq: u64(a[4])}
				for _, e := range entries(a[5:]) {
					d.Ops = append(d.Ops, &registrypb.Op{Kind: registrypb.Op_KIND_REGISTER, Entry: e})
				}
				send(a[0], a[1], d)
				return "ok"
			},
			// heartbeat TO FROM NODE EPOCH SEQ
			"heartbeat": func(a []string) string {
				send(a[0], a[1], &registrypb.Heartbeat{Node: addr(a[2]), Epoch: u64(a[3]), Seq: u64(a[4])})
				return "ok"
			},
			// syncreq TO FROM NODE EPOCH
			"syncreq": func(a []string) string {
				send(a[0], a[1], &registrypb.SyncRequest{Node: addr(a[2]), Epoch: u64(a[3])})
				return "ok"
			},
			// leave TO FROM NODE EPOCH
			"leave": func(a []string) string {
				send(a[0], a[1], &registrypb.Leave{Node: addr(a[2]), Epoch: u64(a[3])})
				return "ok"
			},
			// keepalive TO EPOCH: a heartbeat of its own every 100 ms,
			// so that TO keeps it up, until the process ends.
			"keepalive": func(a []string) string {
				to, epoch := a[0], u64(a[1])
				wg.Go(func() {
					t := time.NewTicker(hb)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							send(to, "self", &registrypb.Heartbeat{Node: node.Address(), Epoch: epoch})
						}
					}
				})
				return "ok"
			},
		},
		Close: func() {
			close(stop)
			wg.Wait()
		},
	}
}
