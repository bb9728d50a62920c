package test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// collected is one collection, by instrument and owner.
type collected struct {
	ints  map[string]map[string]int64  // name -> owner -> value
	hists map[string]map[string]uint64 // callback -> owner -> count
	units map[string]string            // name -> unit
	raw   metricdata.ResourceMetrics
}

func collect(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	c := collected{ints: map[string]map[string]int64{}, hists: map[string]map[string]uint64{}, units: map[string]string{}}
	require.NoError(t, r.Collect(context.Background(), &c.raw))
	for _, sm := range c.raw.ScopeMetrics {
		if sm.Scope.Name != actors.MeterName {
			continue
		}
		for _, m := range sm.Metrics {
			c.units[m.Name] = m.Unit
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					owner, _ := p.Attributes.Value(attribute.Key(actors.AttrOwner))
					if c.ints[m.Name] == nil {
						c.ints[m.Name] = map[string]int64{}
					}
					c.ints[m.Name][owner.AsString()] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					owner, _ := p.Attributes.Value(attribute.Key(actors.AttrOwner))
					cb, _ := p.Attributes.Value(attribute.Key(actors.AttrCallback))
					if c.hists[cb.AsString()] == nil {
						c.hists[cb.AsString()] = map[string]uint64{}
					}
					c.hists[cb.AsString()][owner.AsString()] = p.Count
				}
			}
		}
	}
	return c
}

// With a MeterProvider given to the actor system (protoactor's
// WithMetricProviders), connections are counted by owner: accepted,
// terminated, active, hibernated, bytes each way, and each callback's
// duration; read back here from an in-memory reader.
func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	sys := actors.NewSystem(nil, actor.WithMetricProviders(mp), actor.WithDeadLetterThrottleInterval(time.Millisecond))
	line := actors.WithSocket(transport.WithFramer(transport.Line()))
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithName("measured"), line)

	peers := make([]net.Conn, 3)
	for i := range peers {
		peers[i] = testkit.DialRaw(t, "tcp", srv.Addr().String())
		testkit.Write(t, peers[i], "ping\n")
		require.Equal(t, "ping\n", string(testkit.ReadN(t, peers[i], 5)))
	}
	var pid *actor.PID
	for _, ci := range testkit.Conns(t, srv) {
		if ci.Peer.String() == peers[0].LocalAddr().String() {
			pid = ci.PID
		}
	}
	require.NotNil(t, pid)
	_, err := actors.Request(testkit.Ctx(t), sys.Root, pid, &actors.Hibernate{})
	require.NoError(t, err)
	require.NoError(t, peers[2].Close())
	require.Eventually(t, func() bool {
		c := collect(t, reader)
		return c.ints["etcp.connections.terminated"]["measured"] == 1 && c.ints["etcp.connections.hibernated"]["measured"] == 1
	}, testkit.Wait, time.Millisecond)

	c := collect(t, reader)
	assert.Equal(t, int64(3), c.ints["etcp.connections.accepted"]["measured"])
	assert.Equal(t, int64(1), c.ints["etcp.connections.terminated"]["measured"])
	assert.Equal(t, int64(2), c.ints["etcp.connections.active"]["measured"])
	assert.Equal(t, int64(1), c.ints["etcp.connections.hibernated"]["measured"])
	assert.Equal(t, int64(15), c.ints["etcp.bytes.received"]["measured"], "the ended connection's bytes stay counted")
	assert.Equal(t, int64(15), c.ints["etcp.bytes.sent"]["measured"])
	assert.Equal(t, "By", c.units["etcp.bytes.sent"])
	assert.Equal(t, "s", c.units["etcp.callback.duration"])
	assert.Equal(t, uint64(3), c.hists["Init"]["measured"])
	assert.Equal(t, uint64(3), c.hists["HandlePacket"]["measured"])
	assert.Equal(t, uint64(1), c.hists["HandleDisconnect"]["measured"])

	// A client connection is counted under its own owner, and a stopped
	// server's counts stay.
	cli, err := client.Dial(testkit.Ctx(t), sys.Root, srv.Addr().String(),
		func() behaviours.Handler { return silent{} }, nil, client.WithName("dialler"), line)
	require.NoError(t, err)
	require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, cli, []byte("hi")))
	require.Eventually(t, func() bool { return collect(t, reader).ints["etcp.bytes.received"]["measured"] == 18 },
		testkit.Wait, time.Millisecond, "the server read it")
	require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, cli, nil))
	require.NoError(t, srv.Stop(testkit.Ctx(t), nil))
	require.Eventually(t, func() bool {
		c := collect(t, reader)
		return c.ints["etcp.connections.terminated"]["dialler"] == 1 && c.ints["etcp.connections.terminated"]["measured"] == 4
	}, testkit.Wait, time.Millisecond)
	c = collect(t, reader)
	assert.Equal(t, int64(1), c.ints["etcp.connections.accepted"]["dialler"])
	assert.Equal(t, int64(3), c.ints["etcp.bytes.sent"]["dialler"], "hi and its newline")
	assert.Equal(t, int64(4), c.ints["etcp.connections.accepted"]["measured"])
	assert.Zero(t, c.ints["etcp.connections.active"]["measured"])
	assert.Equal(t, int64(18), c.ints["etcp.bytes.received"]["measured"], "monotonic after the stop")
}

// silent handles nothing.
type silent struct{ behaviours.Base }

// What metrics cost a connection: ping-pong of 64 bytes on one
// connection, with and without a MeterProvider.
//
//	go test -run='^$' -bench=MetricsCost -benchtime=2s -count=3 ./test/
func BenchmarkMetricsCost(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			var opts []actor.ConfigOption
			if on {
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				defer mp.Shutdown(context.Background())
				opts = append(opts, actor.WithMetricProviders(mp))
			}
			sys := actors.NewSystem(nil, append(opts, actor.WithDeadLetterThrottleInterval(time.Millisecond))...)
			srv := testkit.StartServer(b, sys, "", newEcho, newProbe())
			c := testkit.DialRaw(b, "tcp", srv.Addr().String())
			out, in := make([]byte, 64), make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(out); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
