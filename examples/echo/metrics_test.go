package main

import (
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/test/testkit"
)

// scrape reads url's Prometheus text: the sum of each series' values by
// metric name, for the echo server's owner.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	c := http.Client{Timeout: testkit.Wait}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	got := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			got[name] += value(m)
		}
	}
	return got
}

// value is a sample's value: a counter's, a gauge's, or a histogram's count.
func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// With -metrics the echo serves the library's metrics as Prometheus text:
// three connections, one of them closed, each having echoed five bytes,
// show as such in the series of connections and bytes.
func TestMetricsFlag(t *testing.T) {
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) { testMetricsFlag(t, mode) })
	}
}

func testMetricsFlag(t *testing.T, mode []string) {
	before := -1
	if runtime.GOOS == "linux" {
		before = listeners(t)
	}
	lines, stop := startEcho(t, append([]string{"-addr", "127.0.0.1:0", "-grace", "100ms", "-metrics", "127.0.0.1:0"}, mode...)...)
	url := lines["metrics"]
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:") && strings.HasSuffix(url, "/metrics"), "%q", url)
	if before >= 0 {
		assert.Equal(t, before+2, listeners(t), "the echo port and the metrics port")
	}

	conns := make([]net.Conn, 3)
	for i := range conns {
		conns[i] = testkit.DialRaw(t, "tcp", lines["listening"])
		testkit.Write(t, conns[i], "hello")
		assert.Equal(t, "hello", string(testkit.ReadN(t, conns[i], 5)))
	}
	require.NoError(t, conns[0].Close())

	want := map[string]float64{
		"etcp_connections_accepted_total":   3,
		"etcp_connections_active":           2,
		"etcp_connections_terminated_total": 1,
		"etcp_connections_hibernated":       0,
		"etcp_bytes_received_bytes_total":   15,
		"etcp_bytes_sent_bytes_total":       15,
	}
	var got map[string]float64
	// The closed connection's end, and bytes counted once their write
	// returned, may come just after the peer saw them.
	require.Eventually(t, func() bool {
		got = scrape(t, url)
		for name, v := range want {
			if f, ok := got[name]; !ok || f != v {
				return false
			}
		}
		return true
	}, testkit.Wait, 10*time.Millisecond, "want %v", want)
	assert.GreaterOrEqual(t, got["etcp_callback_duration_seconds"], float64(6), "Init and HandlePacket of each, timed")

	require.NoError(t, stop(), "a clean exit")
	if before >= 0 {
		assert.Equal(t, before, listeners(t), "the metrics port is closed")
	}
	_, err := (&http.Client{Timeout: testkit.Wait}).Get(url)
	assert.Error(t, err, "nothing serves the metrics any more")
}

// Without -metrics nothing but the echo listens, and no metrics line is
// printed.
func TestNoMetricsFlag(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts listening sockets through /proc")
	}
	before := listeners(t)
	lines, stop := startEcho(t, "-addr", "127.0.0.1:0", "-grace", "100ms")
	assert.NotContains(t, lines, "metrics")
	assert.Equal(t, before+1, listeners(t))
	require.NoError(t, stop())
}
