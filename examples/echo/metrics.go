package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// -metrics ADDR: the library's OpenTelemetry metrics (actors.MeterName:
// connections accepted, active, hibernated and terminated, bytes
// received and sent, failed handshakes, callback durations), served as
// Prometheus text at http://ADDR/metrics through OpenTelemetry's own
// Prometheus exporter. The actor system is made with the exporter's
// MeterProvider; without the flag it has none, and nothing is measured
// or served.

// metricsServer is the MeterProvider the actor system measures with and
// the HTTP server that exports it.
type metricsServer struct {
	provider *sdkmetric.MeterProvider
	http     *http.Server
	ln       net.Listener
	done     chan struct{} // closed when Serve has returned
}

// startMetrics listens on addr and serves what the returned provider
// measures, on a registry of its own (not the process's default one).
func startMetrics(addr string) (*metricsServer, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m := &metricsServer{provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)),
		http: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		_ = m.http.Serve(ln) // ErrServerClosed once stopped
	}()
	return m, nil
}

// announce prints "metrics http://ADDR/metrics", the bound address.
func (m *metricsServer) announce(stdout io.Writer) {
	fmt.Fprintf(stdout, "metrics http://%s/metrics\n", m.ln.Addr())
}

// stop closes the HTTP server at once (a scrape in flight is cut short)
// and the provider.
func (m *metricsServer) stop() error {
	err := m.http.Close()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return errors.Join(err, m.provider.Shutdown(ctx))
}
