package manage_test

import (
	"context"
	"crypto/rand"
	"net"
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

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// unknownMessage is a protobuf message of a type no node has linked in.
func unknownMessage(t *testing.T) proto.Message {
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("etcp_manage_test_unknown.proto"),
		Package: proto.String("etcp.manage.v1"), // the endpoint's own package, even
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
	require.NoError(t, err)
	md := fd.Messages().Get(0)
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().Get(0), protoreflect.ValueOfString("boom"))
	return m
}

// A node with the endpoint on survives garbage on its remote port,
// messages of a type it does not know, messages it knows but does not
// serve, and protoactor's unimplemented diagnostics calls, and keeps
// answering.
func TestEndpointNodeSurvivesAbuse(t *testing.T) {
	if operate(t) {
		return
	}
	e := newEnv(t)
	ch := startChild(t, envActions+"=1")
	c := e.dial(ch)
	ctx := ctxT(t)

	// Garbage on the remote port.
	for range 3 {
		raw, err := net.Dial("tcp", ch.Node)
		require.NoError(t, err)
		junk := make([]byte, 4096)
		rand.Read(junk)
		_, _ = raw.Write(junk)
		_ = raw.Close()
	}

	// protoactor's ListProcesses and GetProcessDiagnostics panic("implement
	// me"): without the cookie nothing is heard, with it the node's guard
	// refuses them.
	cookie, err := registry.DefaultCookie()
	require.NoError(t, err)
	for creds, want := range map[credentials.TransportCredentials]codes.Code{
		insecure.NewCredentials():                codes.Unavailable,
		registry.CookieCredentials(cookie):       codes.Unimplemented,
		registry.CookieCredentials(cookie + "x"): codes.Unavailable,
	} {
		conn, err := grpc.Dial(ch.Node, grpc.WithTransportCredentials(creds))
		require.NoError(t, err)
		rc := remote.NewRemotingClient(conn)
		_, err = rc.ListProcesses(ctx, &remote.ListProcessesRequest{})
		assert.Equal(t, want, status.Code(err), "%v", err)
		_, err = rc.GetProcessDiagnostics(ctx, &remote.GetProcessDiagnosticsRequest{})
		assert.Equal(t, want, status.Code(err), "%v", err)
		require.NoError(t, conn.Close())
	}
	assert.Equal(t, "0", ch.do("panics"))

	// Messages the endpoint knows but does not serve get an error reply.
	root := e.node.System().Root
	endpoint := func() *actor.PID { return actor.NewPID(ch.Node, manage.Name) }
	for _, m := range []proto.Message{wrapperspb.String("hi"), &managepb.Ok{}, &managepb.ConnList{}} {
		res, err := actors.Request(ctx, root, endpoint(), m)
		require.NoError(t, err)
		if assert.IsType(t, &managepb.Error{}, res) {
			assert.Equal(t, managepb.Code_CODE_UNSUPPORTED, res.(*managepb.Error).Code)
		}
	}

	// A type the node does not know: protoactor's deserializer would
	// dereference nil in the gRPC stream goroutine and end the process.
	root.Send(endpoint(), unknownMessage(t))
	require.Eventually(t, func() bool { return ch.do("panics") == "1" }, wait, 5*time.Millisecond)

	// Still answering: the next request reconnects.
	require.Eventually(t, func() bool {
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		servers, err := c.Servers(rctx)
		return err == nil && len(servers) == 2
	}, wait, time.Millisecond)
	p := dialPeer(t, ch.Srv)
	r, err := c.Call(ctx, refOf(t, c, "srv", p).Ref(), "alive")
	require.NoError(t, err)
	assert.Equal(t, "string:alive", r.Value)
}
