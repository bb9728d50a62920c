package manage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// Name is the well-known name of the endpoint's actor on its node.
const Name = "etcp-manage"

// Protocol is the version of the wire messages (etcp.manage.v1) this
// package speaks.
const Protocol = 1

// wirePackage is the protobuf package of the endpoint's messages.
const wirePackage = "etcp.manage.v1"

// MaxConcurrent bounds the requests an endpoint serves at once; more are
// answered with ErrBusy.
const MaxConcurrent = 64

// requestTimeout bounds one request's work on the endpoint (a call, a
// stop, a cluster fan-out).
const requestTimeout = 10 * time.Second

// Option configures Enable.
type Option func(*config)

type config struct {
	servers []*server.Server
	pools   []*pool.Pool
	actions bool
	cluster *registry.Cluster
	reg     registry.Registry
	logger  *slog.Logger
}

// WithServers manages servers: they are listed, and acted on with
// WithActions.
func WithServers(s ...*server.Server) Option {
	return func(c *config) { c.servers = append(c.servers, s...) }
}

// WithPools manages pools.
func WithPools(p ...*pool.Pool) Option { return func(c *config) { c.pools = append(c.pools, p...) } }

// WithActions allows the action verbs (call, cast, stop, hibernate, wake,
// trace, and the server actions). Without it the endpoint is read-only
// and refuses them with ErrReadOnly.
func WithActions() Option { return func(c *config) { c.actions = true } }

// WithCluster makes cluster-wide queries fan out to the members of c
// (default: the node's actor system's registry, when it is a
// registry.Cluster).
func WithCluster(c *registry.Cluster) Option { return func(cfg *config) { cfg.cluster = c } }

// WithRegistry sets where client connections are found (default
// registry.Of of the node's actor system): every connection registered
// there under its PID's id whose owner is not a managed server or pool.
func WithRegistry(r registry.Registry) Option { return func(c *config) { c.reg = r } }

// WithLogger sets the endpoint's logger (default: the actor system's).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Endpoint is a node's management endpoint: the actor Name on the node,
// serving the verbs of package manage to other nodes. Its methods are
// safe for concurrent use.
type Endpoint struct {
	node    *registry.Node
	sys     *actor.ActorSystem
	pid     *actor.PID
	actions bool
	cluster *registry.Cluster
	reg     registry.Registry
	log     *slog.Logger

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // requests, drains and the trace watcher
	sem    chan struct{}
	lost   *eventstream.Subscription

	mu      sync.Mutex
	closed  bool
	servers []*server.Server
	pools   []*pool.Pool
	traces  map[string]*traced // by connection PID id
	watchOn bool               // the trace watcher runs
}

// Enable starts the management endpoint of node: the actor Name, which
// serves the servers and pools given with WithServers and WithPools and
// the client connections found in the registry. Each verb needs a role
// of the requesting node (registry.Roles): reads RoleRead, Call and
// Cast RoleSend, the other actions RoleControl.
//
// It is read-only unless WithActions is given, and read-only holds for
// the whole node, not only the endpoint's verbs: Enable limits every
// other node to registry.RoleRead (Node.Limit), so that no node can
// reach a connection whose PID the endpoint hands out and call or stop
// it; Close lifts the limit. Enable refuses (ErrInsecure) a node that
// listens on anything but a loopback address unless it was started with
// mutual TLS (registry.WithMutualTLS).
func Enable(node *registry.Node, opts ...Option) (*Endpoint, error) {
	if node == nil {
		return nil, fmt.Errorf("%w: nil node", ErrInvalid)
	}
	if !registry.Loopback(node.Listen()) && !node.MutualTLS() {
		return nil, fmt.Errorf("%w: node %s listens on %s", ErrInsecure, node.Address(), node.Listen())
	}
	var c config
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalid)
		}
		o(&c)
	}
	sys := node.System()
	e := &Endpoint{node: node, sys: sys, actions: c.actions, cluster: c.cluster, reg: c.reg, log: c.logger,
		sem: make(chan struct{}, MaxConcurrent), traces: map[string]*traced{}}
	for _, s := range c.servers {
		if s == nil {
			return nil, fmt.Errorf("%w: nil server", ErrInvalid)
		}
	}
	for _, p := range c.pools {
		if p == nil {
			return nil, fmt.Errorf("%w: nil pool", ErrInvalid)
		}
	}
	e.servers = append(e.servers, c.servers...)
	e.pools = append(e.pools, c.pools...)
	if e.reg == nil {
		e.reg = registry.Of(sys)
	}
	if e.cluster == nil {
		e.cluster, _ = e.reg.(*registry.Cluster)
	}
	if e.log == nil {
		e.log = sys.Logger()
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	pid, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return (*endpointActor)(e) }), Name)
	if err != nil {
		e.cancel()
		if errors.Is(err, actor.ErrNameExists) {
			return nil, fmt.Errorf("%w: %s", ErrEnabled, node.Address())
		}
		return nil, fmt.Errorf("etcp/manage: starting the endpoint: %w", err)
	}
	e.pid = pid
	if !e.actions {
		node.Limit(registry.RoleRead)
	}
	// Streams to a node that went away end: its subscriptions go.
	// (Subscribe and a type switch, not SubscribeWithPredicate: protoactor
	// sets the predicate after the subscription is published, a data race
	// with an event published meanwhile.)
	e.lost = sys.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*remote.EndpointTerminatedEvent); ok {
			e.dropAddress(t.Address)
		}
	})
	return e, nil
}

// PID is the endpoint's actor.
func (e *Endpoint) PID() *actor.PID { return e.pid }

// Actions reports whether action verbs are allowed.
func (e *Endpoint) Actions() bool { return e.actions }

// AddServer manages one more server.
func (e *Endpoint) AddServer(s *server.Server) {
	e.mu.Lock()
	e.servers = append(e.servers, s)
	e.mu.Unlock()
}

// AddPool manages one more pool.
func (e *Endpoint) AddPool(p *pool.Pool) {
	e.mu.Lock()
	e.pools = append(e.pools, p)
	e.mu.Unlock()
}

// Close stops the endpoint: its actor goes (requests to it then fail
// with ErrNoEndpoint), streams end, tracing it turned on is turned off,
// drains under way stop their servers at once, and Close returns once
// every request under way has been answered. The servers, pools and
// connections it managed carry on. Calling it again does nothing.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	err := e.sys.Root.StopFuture(e.pid).Wait()
	if !e.actions {
		e.node.Limit(registry.RoleAll)
	}
	e.sys.EventStream.Unsubscribe(e.lost)
	e.cancel()
	e.wg.Wait()
	e.endTraces()
	return err
}

// endpointActor is the endpoint's actor.
type endpointActor Endpoint

// Receive is the endpoint actor's behaviour: each request is served in a
// goroutine of its own (at most MaxConcurrent at once), so a slow call to
// a connection delays no other request.
func (a *endpointActor) Receive(ctx actor.Context) {
	e := (*Endpoint)(a)
	switch m := ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
	case proto.Message:
		if m.ProtoReflect().Descriptor().ParentFile().Package() == wirePackage {
			e.serve(ctx, m)
			return
		}
		if s := ctx.Sender(); s != nil {
			ctx.Send(s, &managepb.Error{Code: managepb.Code_CODE_UNSUPPORTED,
				Message: fmt.Sprintf("unsupported message %s", m.ProtoReflect().Descriptor().FullName())})
		}
	default:
		if s := ctx.Sender(); s != nil {
			ctx.Send(s, &managepb.Error{Code: managepb.Code_CODE_UNSUPPORTED, Message: fmt.Sprintf("unsupported message %T", m)})
		}
	}
}

// need is the role a request needs of the node it comes from: actions
// that send to a connection RoleSend, the other actions RoleControl, and
// the rest RoleRead (Hello none).
func need(m proto.Message) registry.Role {
	switch m.(type) {
	case *managepb.Hello:
		return registry.RoleNone
	case *managepb.CallConn, *managepb.CastConn:
		return registry.RoleSend
	case *managepb.StopConn, *managepb.HibernateConn, *managepb.WakeConn, *managepb.TraceConn,
		*managepb.SleepServer, *managepb.WakeServer, *managepb.SetMaxConnections,
		*managepb.DrainServer, *managepb.StopServer:
		return registry.RoleControl
	}
	return registry.RoleRead
}

// action reports whether a request is an action verb.
func action(m proto.Message) bool { return need(m)&(registry.RoleSend|registry.RoleControl) != 0 }

func (e *Endpoint) serve(actx actor.Context, m proto.Message) {
	sender := actx.Sender()
	reply := func(r proto.Message) {
		if sender != nil {
			e.sys.Root.Send(sender, r)
		}
	}
	if action(m) && !e.actions {
		reply(&managepb.Error{Code: managepb.Code_CODE_READ_ONLY,
			Message: fmt.Sprintf("%s: read-only endpoint: actions are not allowed", m.ProtoReflect().Descriptor().Name())})
		return
	}
	if err := registry.Allow(actx, need(m)); err != nil {
		reply(&managepb.Error{Code: managepb.Code_CODE_FORBIDDEN,
			Message: fmt.Sprintf("%s: %v", m.ProtoReflect().Descriptor().Name(), err)})
		return
	}
	select {
	case e.sem <- struct{}{}:
	default:
		reply(&managepb.Error{Code: managepb.Code_CODE_BUSY, Message: "too many requests under way"})
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() { <-e.sem }()
		ctx, cancel := context.WithTimeout(e.ctx, requestTimeout)
		defer cancel()
		reply(e.handle(ctx, m))
	}()
}

// handle serves one request and returns its reply.
func (e *Endpoint) handle(ctx context.Context, m proto.Message) (r proto.Message) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("etcp/manage: a request panicked", "request", fmt.Sprintf("%T", m), "panic", p)
			r = &managepb.Error{Code: managepb.Code_CODE_FAILED, Message: fmt.Sprintf("panic: %v", p)}
		}
	}()
	var err error
	switch m := m.(type) {
	case *managepb.Hello:
		r = e.hello()
	case *managepb.ListServers:
		r, err = e.listServers(ctx, m)
	case *managepb.ListAcceptors:
		r, err = e.listAcceptors(m)
	case *managepb.ListPools:
		r, err = e.listPools(ctx, m)
	case *managepb.ListConns:
		r, err = e.listConns(ctx, m)
	case *managepb.Inspect:
		r, err = e.inspect(ctx, m)
	case *managepb.CallConn:
		r, err = e.callConn(m)
	case *managepb.CastConn:
		r, err = e.castConn(m)
	case *managepb.StopConn:
		r, err = e.stopConn(ctx, m)
	case *managepb.HibernateConn:
		r, err = e.hibernateConn(ctx, m)
	case *managepb.WakeConn:
		r, err = e.wakeConn(ctx, m)
	case *managepb.TraceConn:
		r, err = e.traceConn(ctx, m)
	case *managepb.SleepServer:
		r, err = e.sleepServer(ctx, m.Server)
	case *managepb.WakeServer:
		r, err = e.wakeServer(ctx, m.Server)
	case *managepb.SetMaxConnections:
		r, err = e.setMax(m)
	case *managepb.DrainServer:
		r, err = e.drain(m)
	case *managepb.StopServer:
		r, err = e.stopServer(ctx, m)
	default:
		return &managepb.Error{Code: managepb.Code_CODE_UNSUPPORTED,
			Message: fmt.Sprintf("unsupported message %s", m.ProtoReflect().Descriptor().FullName())}
	}
	if err != nil {
		return toError(managepb.Code_CODE_FAILED, err)
	}
	return r
}

func (e *Endpoint) hello() *managepb.HelloReply {
	r := &managepb.HelloReply{Protocol: Protocol, Node: e.node.Address(), Actions: e.actions,
		MutualTls: e.node.MutualTLS(), Cluster: e.cluster != nil}
	for _, s := range e.serverList() {
		r.Servers = append(r.Servers, s.Name())
	}
	for _, p := range e.poolList() {
		r.Pools = append(r.Pools, p.Name())
	}
	return r
}

func (e *Endpoint) serverList() []*server.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*server.Server(nil), e.servers...)
}

func (e *Endpoint) poolList() []*pool.Pool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*pool.Pool(nil), e.pools...)
}

func (e *Endpoint) server(name string) (*server.Server, error) {
	for _, s := range e.serverList() {
		if s.Name() == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: no server %q", ErrNotFound, name)
}

// pidOf builds a PID of this node afresh (a PID caches the system that
// first used it).
func (e *Endpoint) pidOf(address, id string) *actor.PID { return actor.NewPID(address, id) }
