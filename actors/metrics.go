package actors

import (
	"context"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// OpenTelemetry metrics. They are off unless the actor system was made
// with a MeterProvider (protoactor's actor.WithMetricProviders); then the
// connections of every server, client and pool of the system are
// measured on that provider's meter MeterName, by owner (attribute
// AttrOwner):
//
//	etcp.connections.accepted    counter        connections whose Init accepted them
//	etcp.connections.terminated  counter        accepted connections that ended (Terminate ran)
//	etcp.connections.active      up-down        accepted connections not yet ended
//	etcp.connections.hibernated  up-down        hibernated ones (passivated included)
//	etcp.bytes.received          counter (By)   bytes read from the sockets
//	etcp.bytes.sent              counter (By)   bytes written to them
//	etcp.callback.duration       histogram (s)  each callback's run, by callback (AttrCallback)
//
// The counters and up-downs are observed when the reader collects, from
// what each connection already counts (see ConnStats): nothing is added
// to a connection's path but one histogram record per callback. A
// collection walks the live connections, so it costs their number.

// Names of the meter and attributes.
const (
	MeterName    = "github.com/etcp-go/etcp"
	AttrOwner    = "etcp.owner"
	AttrCallback = "etcp.callback"
)

// sysMetrics measures one actor system's connections.
type sysMetrics struct {
	hist metric.Float64Histogram

	mu     sync.Mutex
	groups map[*group]struct{}   // groups with connections in their list
	ended  map[string]*endedSums // by owner: what ended connections counted

	accepted, terminated, active, hibernated metric.Int64Observable
	received, sent, handshakesFailed         metric.Int64Observable
}

type endedSums struct {
	terminated        int64
	bytesIn, bytesOut uint64
	handshakesFailed  int64 // counted as they fail, whether the connection ended yet or not
}

// groupMetrics is a group's part: its system's metrics, and the
// attribute sets of its callbacks.
type groupMetrics struct {
	sys *sysMetrics
	cb  [len(callbackNames)]metric.RecordOption
}

var (
	metricsMu    sync.Mutex
	metricsBySys = map[*actor.ActorSystem]*sysMetrics{}
)

// newGroupMetrics returns the metrics of a new group of sys's owned by
// owner, or nil when sys has no MeterProvider (or its instruments could
// not be made: that is logged once).
func newGroupMetrics(sys *actor.ActorSystem, owner string) *groupMetrics {
	mp := sys.Config.MetricsProvider
	if mp == nil {
		return nil
	}
	metricsMu.Lock()
	m, ok := metricsBySys[sys]
	if !ok {
		var err error
		if m, err = newSysMetrics(mp.Meter(MeterName)); err != nil {
			sys.Logger().Error("etcp: metrics are off: making the instruments failed", "err", err)
		}
		metricsBySys[sys] = m // nil after a failure: not tried again
	}
	metricsMu.Unlock()
	if m == nil {
		return nil
	}
	gm := &groupMetrics{sys: m}
	for i, name := range callbackNames {
		gm.cb[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrOwner, owner),
			attribute.String(AttrCallback, name)))
	}
	return gm
}

func newSysMetrics(meter metric.Meter) (*sysMetrics, error) {
	m := &sysMetrics{groups: map[*group]struct{}{}, ended: map[string]*endedSums{}}
	var err error
	counter := func(name, unit, desc string) metric.Int64Observable {
		var c metric.Int64ObservableCounter
		if err == nil {
			c, err = meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		}
		return c
	}
	upDown := func(name, desc string) metric.Int64Observable {
		var c metric.Int64ObservableUpDownCounter
		if err == nil {
			c, err = meter.Int64ObservableUpDownCounter(name, metric.WithUnit("{connection}"), metric.WithDescription(desc))
		}
		return c
	}
	m.accepted = counter("etcp.connections.accepted", "{connection}", "Connections whose Init accepted them.")
	m.terminated = counter("etcp.connections.terminated", "{connection}", "Accepted connections that ended.")
	m.active = upDown("etcp.connections.active", "Accepted connections not yet ended.")
	m.hibernated = upDown("etcp.connections.hibernated", "Hibernated connections, passivated included.")
	m.received = counter("etcp.bytes.received", "By", "Bytes read from the connections' sockets.")
	m.sent = counter("etcp.bytes.sent", "By", "Bytes written to the connections' sockets.")
	m.handshakesFailed = counter("etcp.handshakes.failed", "{handshake}", "Transport (TLS) handshakes that failed or timed out.")
	if err != nil {
		return nil, err
	}
	if m.hist, err = meter.Float64Histogram("etcp.callback.duration", metric.WithUnit("s"),
		metric.WithDescription("How long each handler callback ran.")); err != nil {
		return nil, err
	}
	_, err = meter.RegisterCallback(m.observe, m.accepted, m.terminated, m.active, m.hibernated, m.received, m.sent,
		m.handshakesFailed)
	return m, err
}

// track notes that g has a connection in its list (after the add).
func (gm *groupMetrics) track(g *group) {
	m := gm.sys
	m.mu.Lock()
	m.groups[g] = struct{}{}
	m.mu.Unlock()
}

// ended takes p out of g's list and adds what it counted to its owner's
// sums, at once for a collection, so that each connection is observed
// live or ended, never both and never neither.
func (gm *groupMetrics) ended(g *group, p *process) {
	m := gm.sys
	m.mu.Lock()
	defer m.mu.Unlock()
	g.conns.remove(p)
	if p.lastFrame.Load() == 0 {
		return // Init never accepted it
	}
	s := m.ended[g.owner]
	if s == nil {
		s = &endedSums{}
		m.ended[g.owner] = s
	}
	s.terminated++
	s.bytesIn += p.counters.bytesIn.Load()
	s.bytesOut += p.counters.bytesOut.Load()
}

// handshakeFailed counts a failed handshake of g's connections.
func (gm *groupMetrics) handshakeFailed(g *group) {
	m := gm.sys
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.ended[g.owner]
	if s == nil {
		s = &endedSums{}
		m.ended[g.owner] = s
	}
	s.handshakesFailed++
}

// timed records a callback's duration.
func (gm *groupMetrics) timed(cb callback, start time.Time) {
	gm.sys.hist.Record(context.Background(), time.Since(start).Seconds(), gm.cb[cb])
}

// observe is the collection callback.
func (m *sysMetrics) observe(_ context.Context, o metric.Observer) error {
	type sums struct {
		endedSums
		accepted, active, hibernated int64
	}
	m.mu.Lock()
	by := make(map[string]*sums, len(m.ended)+len(m.groups))
	get := func(owner string) *sums {
		s := by[owner]
		if s == nil {
			s = &sums{}
			by[owner] = s
		}
		return s
	}
	for owner, e := range m.ended {
		s := get(owner)
		s.endedSums = *e
		s.accepted = e.terminated
	}
	for g := range m.groups {
		s := get(g.owner)
		empty := true
		g.conns.each(func(p *process) {
			empty = false
			if p.lastFrame.Load() == 0 {
				return // not accepted (yet)
			}
			s.accepted++
			s.active++
			if p.st.load() == stAsleep || p.hibernated.Load() {
				s.hibernated++
			}
			s.bytesIn += p.counters.bytesIn.Load()
			s.bytesOut += p.counters.bytesOut.Load()
		})
		if empty {
			delete(m.groups, g) // tracked again with its next connection
		}
	}
	m.mu.Unlock()
	for owner, s := range by {
		opt := metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrOwner, owner)))
		o.ObserveInt64(m.accepted, s.accepted, opt)
		o.ObserveInt64(m.terminated, s.terminated, opt)
		o.ObserveInt64(m.active, s.active, opt)
		o.ObserveInt64(m.hibernated, s.hibernated, opt)
		o.ObserveInt64(m.received, int64(s.bytesIn), opt)
		o.ObserveInt64(m.sent, int64(s.bytesOut), opt)
		o.ObserveInt64(m.handshakesFailed, s.handshakesFailed, opt)
	}
	return nil
}
