package registry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

// cookie is the cookie nodes of this user share by default.
func cookie(t *testing.T) string {
	c, err := registry.DefaultCookie()
	require.NoError(t, err)
	return c
}
