package test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/test/testkit/testcerts"
	"github.com/etcp-go/etcp/transport"
)

// Issue 19: a TLS server counts the handshakes that failed (a peer that
// sends garbage, or a plain-TCP hello) in Info and in the metrics; a
// good client is served and not counted.
func TestHandshakeFailuresCounted(t *testing.T) {
	ca, err := testcerts.NewCA("ca")
	require.NoError(t, err)
	srvLeaf, err := ca.Issue("server")
	require.NoError(t, err)
	cliLeaf, err := ca.Issue("client")
	require.NoError(t, err)

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	sys := actors.NewSystem(nil, actor.WithMetricProviders(mp))
	t.Cleanup(sys.Shutdown)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithName("tlsfail"),
		actors.WithSocket(transport.WithTransport(transport.TLS(srvLeaf.Server(ca)))))
	require.Zero(t, srv.Info().HandshakeFailures)

	for _, hello := range []string{"\x00garbage\xff\xfe", "hello, plain TCP\n"} {
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		testkit.Write(t, c, hello)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(testkit.Wait)))
		_, err := io.ReadAll(c) // the server ends it (a TLS alert, then EOF or a reset)
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server closed the connection: %v", err)
		c.Close()
	}
	require.Eventually(t, func() bool { return srv.Info().HandshakeFailures == 2 }, testkit.Wait, time.Millisecond)

	raw := testkit.DialRaw(t, "tcp", srv.Addr().String())
	cfg := cliLeaf.Client(ca)
	cfg.ServerName = "localhost"
	good := tls.Client(raw, cfg)
	roundTrip(t, good, "over TLS")
	require.EqualValues(t, 2, srv.Info().HandshakeFailures, "a good handshake is not counted")
	require.Equal(t, int64(2), collect(t, reader).ints["etcp.handshakes.failed"]["tlsfail"])
}
