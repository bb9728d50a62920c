package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/registry/internal/nodetest"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

// device registers its connection under the name a "login NAME" line
// gives, answers a call with "NAME:REQUEST", and writes "cast MSG" to
// its peer for a cast, "info TYPE MSG" for a string or []byte info.
type device struct {
	behaviours.Base
	name string
}

func (d *device) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	if name, ok := strings.CutPrefix(string(bytes.TrimSpace(p)), "login "); ok {
		if err := c.Register(name); err != nil {
			return behaviours.Send([]byte("error " + err.Error()))
		}
		d.name = name
		return behaviours.Send([]byte("ok"))
	}
	return behaviours.Continue()
}

func (d *device) HandleCall(_ behaviours.Conn, req any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply(fmt.Sprintf("%s:%v", d.name, req))
}

func (d *device) HandleCast(_ behaviours.Conn, msg any) behaviours.Result {
	return behaviours.Send([]byte(fmt.Sprint("cast ", msg)))
}

func (d *device) HandleInfo(_ behaviours.Conn, msg any) behaviours.Result {
	switch m := msg.(type) {
	case string:
		return behaviours.Send([]byte("info string " + m))
	case []byte:
		return behaviours.Send([]byte("info bytes " + string(m)))
	}
	return behaviours.Continue()
}

// connsServer is a node whose cluster registry is its actor system's
// default: it serves devices (a line server whose connections log in
// under names), and calls and casts connections by name.
func connsServer() *nodetest.Server {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond),
	)
	var (
		node *registry.Node
		reg  *registry.Cluster
		srv  *server.Server
	)
	ms := func(s string) time.Duration { n, _ := strconv.Atoi(s); return time.Duration(n) * time.Millisecond }
	return &nodetest.Server{
		Init: func() string {
			var err error
			if node, err = registry.StartNode(sys, registry.WithConnectRetries(1)); err != nil {
				return "error " + err.Error()
			}
			var peers []string
			if p := os.Getenv(envPeers); p != "" {
				peers = strings.Split(p, ",")
			}
			if reg, err = registry.NewCluster(node, peers, registry.WithHeartbeat(hb, hbTimeout)); err != nil {
				return "error " + err.Error()
			}
			registry.SetDefault(sys, reg)
			srv, err = server.Start(sys, func() behaviours.Handler { return &device{} }, nil, "127.0.0.1:0",
				server.WithAcceptors(2), actors.WithLogger(discard),
				actors.WithSocket(transport.WithFramer(transport.Line())))
			if err != nil {
				return "error " + err.Error()
			}
			return "ready " + node.Address() + " " + srv.Addr().String()
		},
		Commands: map[string]nodetest.Handler{
			// await NAME MS: wait until NAME resolves here.
			"await": func(a []string) string {
				deadline := time.Now().Add(ms(a[1]))
				for time.Now().Before(deadline) {
					if _, err := reg.Lookup(a[0]); err == nil {
						return "ok"
					}
					time.Sleep(time.Millisecond)
				}
				return "timeout"
			},
			// awaitgone NAME MS: wait until NAME no longer resolves here.
			"awaitgone": func(a []string) string {
				deadline := time.Now().Add(ms(a[1]))
				for time.Now().Before(deadline) {
					if _, err := reg.Lookup(a[0]); err != nil {
						return "gone"
					}
					time.Sleep(time.Millisecond)
				}
				return "timeout"
			},
			// call NAME REQ: client.Call by name; replies "ok VALUE".
			"call": func(a []string) string {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				v, err := client.Call(ctx, sys.Root, client.Name(a[0]), a[1])
				if err != nil {
					return "error " + err.Error()
				}
				return fmt.Sprint("ok ", v)
			},
			// cast NAME MSG: client.Cast by name.
			"cast": func(a []string) string {
				if err := client.Cast(sys.Root, client.Name(a[0]), a[1]); err != nil {
					return "error " + err.Error()
				}
				return "ok"
			},
			// info NAME string|bytes MSG: client.Info by name, MSG as that type.
			"info": func(a []string) string {
				var msg any = a[2]
				if a[1] == "bytes" {
					msg = []byte(a[2])
				}
				if err := client.Info(sys.Root, client.Name(a[0]), msg); err != nil {
					return "error " + err.Error()
				}
				return "ok"
			},
			// where NAME: the node that holds NAME.
			"where": func(a []string) string {
				e, err := reg.Lookup(a[0])
				if err != nil {
					return "error " + err.Error()
				}
				return "ok " + e.PID.Address
			},
		},
		Close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Stop(ctx, nil)
			_ = reg.Close()
		},
	}
}
