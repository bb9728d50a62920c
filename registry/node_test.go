package registry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/registry/internal/nodetest"
)

func newSystem() *actor.ActorSystem {
	return actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }),
		actor.WithDeadLetterThrottleInterval(time.Millisecond),
	)
}

// unknownMessage is a proto message of a type no node has linked in.
func unknownMessage() (proto.Message, error) {
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("etcp_test_unknown.proto"),
		Package: proto.String("etcp.test.unknown"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Surprise"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("text"), Number: proto.Int32(1), JsonName: proto.String("text"),
				Type:  descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}, nil)
	if err != nil {
		return nil, err
	}
	md := fd.Messages().Get(0)
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().Get(0), protoreflect.ValueOfString("boom"))
	return m, nil
}

// senderServer is a second node, in a child process, that sends a
// message of a type the node under test does not know, then asks it to
// echo until it answers.
func senderServer() *nodetest.Server {
	sys := newSystem()
	var n *registry.Node
	var stopFlood chan struct{}
	var flooding sync.WaitGroup
	return &nodetest.Server{
		Init: func() string {
			var err error
			if n, err = registry.StartNode(sys, registry.WithConnectRetries(1)); err != nil {
				return "error " + err.Error()
			}
			return "ready " + n.Address()
		},
		Commands: map[string]nodetest.Handler{
			"crash": func(args []string) string {
				target := n.PID(args[0], "echo")
				m, err := unknownMessage()
				if err != nil {
					return "error " + err.Error()
				}
				sys.Root.Send(target, m)
				deadline := time.Now().Add(15 * time.Second)
				for tries := 1; time.Now().Before(deadline); tries++ {
					res, err := sys.Root.RequestFuture(target, wrapperspb.String("hi"), 200*time.Millisecond).Result()
					if err == nil && res.(*wrapperspb.StringValue).GetValue() == "hi" {
						return fmt.Sprint("ok ", tries)
					}
				}
				return "fail"
			},
			// flood ADDR: send to ADDR's actor "sink" a message every
			// millisecond until stop; answer once
			// ADDR's "echo" has answered, behind the first of them.
			"flood": func(args []string) string {
				target := n.PID(args[0], "sink")
				stopFlood = make(chan struct{})
				flooding.Add(1)
				go func() {
					defer flooding.Done()
					tick := time.NewTicker(time.Millisecond)
					defer tick.Stop()
					for {
						sys.Root.Send(target, wrapperspb.String("flood"))
						select {
						case <-stopFlood:
							return
						case <-tick.C:
						}
					}
				}()
				echo := n.PID(args[0], "echo")
				deadline := time.Now().Add(15 * time.Second)
				for tries := 1; time.Now().Before(deadline); tries++ {
					res, err := sys.Root.RequestFuture(echo, wrapperspb.String("hi"), time.Second).Result()
					if err == nil && res.(*wrapperspb.StringValue).GetValue() == "hi" {
						return fmt.Sprint("ok ", tries)
					}
				}
				return "fail"
			},
			"stop": func([]string) string {
				close(stopFlood)
				flooding.Wait()
				return "ok"
			},
		},
		Close: func() { n.Shutdown() },
	}
}

// The node survives a message of an unknown type from a peer and direct
// calls to protoactor's unimplemented RPCs, and keeps answering.
func TestNodeSurvivesCrashVectors(t *testing.T) {
	sys := newSystem()
	n, err := registry.StartNode(sys)
	require.NoError(t, err)
	defer n.Shutdown()
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, n.Address())

	echo, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*wrapperspb.StringValue); ok {
			c.Respond(m)
		}
	}), "echo")
	require.NoError(t, err)
	defer sys.Root.Stop(echo)

	// A type this node does not know: protoactor's deserializer would
	// dereference nil in the gRPC stream goroutine and end the process.
	sender := nodetest.Start(t, "sender")
	require.True(t, strings.HasPrefix(sender.First, "ready "), sender.First)
	reply := sender.Do("crash %s", n.Address())
	assert.True(t, strings.HasPrefix(reply, "ok "), reply)
	assert.Equal(t, uint64(1), n.Stats().Panics)
	sender.Quit(15 * time.Second)
	// Wait until this node has seen the sender go (see Node.Shutdown).
	require.Eventually(t, func() bool { return n.Stats().EndpointsLost > 0 }, 10*time.Second, time.Millisecond)

	// protoactor's ListProcesses and GetProcessDiagnostics panic("implement
	// me"): a client without the cookie is not heard at all, one with it is
	// refused by the guard.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, creds := range []credentials.TransportCredentials{insecure.NewCredentials(), registry.CookieCredentials(cookie(t))} {
		conn, err := grpc.Dial(n.Address(), grpc.WithTransportCredentials(creds))
		require.NoError(t, err)
		client := remote.NewRemotingClient(conn)
		_, err = client.ListProcesses(ctx, &remote.ListProcessesRequest{})
		want := codes.Unimplemented
		if creds.Info().SecurityProtocol == "insecure" {
			want = codes.Unavailable
		}
		assert.Equal(t, want, status.Code(err), "%v", err)
		_, err = client.GetProcessDiagnostics(ctx, &remote.GetProcessDiagnosticsRequest{})
		assert.Equal(t, want, status.Code(err), "%v", err)
		require.NoError(t, conn.Close())
	}
	assert.Equal(t, uint64(1), n.Stats().Panics)
	assert.Equal(t, uint64(2), n.Stats().Refused)

	// Still answering, in this process too.
	res, err := sys.Root.RequestFuture(echo, wrapperspb.String("still"), time.Second).Result()
	require.NoError(t, err)
	assert.Equal(t, "still", res.(*wrapperspb.StringValue).GetValue())

	// A taken address is an error, not a panic.
	sys3 := newSystem()
	_, err = registry.StartNode(sys3, registry.WithListen(n.Address()))
	assert.ErrorIs(t, err, registry.ErrAddrInUse)
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	if assert.Error(t, err) {
		assert.Equal(t, 1, strings.Count(err.Error(), n.Address()), err.Error())
	}
	_, err = registry.StartNode(sys3, registry.WithListen("nonsense"))
	assert.ErrorIs(t, err, registry.ErrInvalid)
	_, err = registry.AttachNode(sys3)
	assert.ErrorIs(t, err, registry.ErrInvalid)
	a, err := registry.AttachNode(sys)
	require.NoError(t, err)
	assert.Equal(t, n.Address(), a.Address())
	a.Shutdown() // not ours: does nothing

	n.Shutdown()
	n.Shutdown()
}

// A node shuts down cleanly while a peer keeps sending to it. At the pin,
// protoactor's Remote.Shutdown writes a flag that each incoming stream's
// goroutine reads after every message, without synchronisation: under
// -race the node's process found that race (and exited with status 66)
// until Node.Shutdown first waited for those goroutines (guard.go).
// Nothing in the node's process waits on what the peer sends (the peer
// reports that its messages get through), so only that wait can order
// the goroutines' reads before the write. Both nodes are children: a
// second remote started in this process would race with the first's
// gRPC goroutines on gRPC's global logger.
func TestShutdownWhileAPeerSends(t *testing.T) {
	target := nodetest.Start(t, "target")
	require.True(t, strings.HasPrefix(target.First, "ready "), target.First)
	addr := strings.TrimPrefix(target.First, "ready ")
	sender := nodetest.Start(t, "sender")
	require.True(t, strings.HasPrefix(sender.First, "ready "), sender.First)
	reply := sender.Do("flood %s", addr)
	require.True(t, strings.HasPrefix(reply, "ok "), reply)
	assert.Equal(t, "ok", target.Do("shutdown")) // the peer still sends
	target.Quit(15 * time.Second)
	assert.NoError(t, target.Exited(), "the node shutting down (status 66: a data race)")
	require.Equal(t, "ok", sender.Do("stop"))
	sender.Quit(15 * time.Second)
	assert.NoError(t, sender.Exited())
}

// targetServer is a node with two actors: "sink" ignores what it gets,
// "echo" answers strings with themselves.
func targetServer() *nodetest.Server {
	sys := newSystem()
	var n *registry.Node
	return &nodetest.Server{
		Init: func() string {
			var err error
			if n, err = registry.StartNode(sys); err != nil {
				return "error " + err.Error()
			}
			if _, err = sys.Root.SpawnNamed(actor.PropsFromFunc(func(actor.Context) {}), "sink"); err != nil {
				return "error " + err.Error()
			}
			if _, err = sys.Root.SpawnNamed(actor.PropsFromFunc(func(c actor.Context) {
				if m, ok := c.Message().(*wrapperspb.StringValue); ok {
					c.Respond(m)
				}
			}), "echo"); err != nil {
				return "error " + err.Error()
			}
			return "ready " + n.Address()
		},
		Commands: map[string]nodetest.Handler{
			"shutdown": func([]string) string {
				n.Shutdown()
				if registry.Guarded(sys) {
					return "still guarded"
				}
				return "ok"
			},
		},
		Close: func() { n.Shutdown(); sys.Shutdown() },
	}
}

// cookie is the cookie nodes of this user share by default.
func cookie(t *testing.T) string {
	c, err := registry.DefaultCookie()
	require.NoError(t, err)
	return c
}

// A cookie file others may read is refused, as Erlang refuses its own.
func TestCookieFileMustBeTheUsers(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(registry.CookieEnv, "")
	c, err := registry.DefaultCookie()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(c), registry.MinCookieLen)
	again, err := registry.DefaultCookie()
	require.NoError(t, err)
	assert.Equal(t, c, again, "the same cookie once the file exists")
	path := filepath.Join(home, registry.CookieFile)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.NoError(t, os.Chmod(path, 0o644))
	_, err = registry.DefaultCookie()
	assert.ErrorIs(t, err, registry.ErrInvalid)
	assert.ErrorContains(t, err, "chmod 600")
}
