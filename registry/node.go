package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// A Node is an actor system reachable over protoactor remote. Every
// remote the library creates or joins goes through [StartNode] (or
// [AttachNode] for a remote the user started): a [Cluster] registry runs
// on one, and remote supervision will.
//
// Create one with [StartNode]; the zero value is not usable.
type Node struct {
	sys    *actor.ActorSystem
	remote *remote.Remote
	addr   string
	listen string       // host:port listened on
	tls    *tls.Config  // the client side of WithMutualTLS; nil without
	cookie *cookieCreds // without mutual TLS; nil for an attached node
	owned  bool         // started here: Shutdown stops it
	ext    *external    // its remote started by a protoactor cluster (RemoteConfig)
	log    *slog.Logger

	roles           Roles
	cap             atomic.Uint32 // Limit
	panics          atomic.Uint64
	lost            atomic.Uint64
	refused         atomic.Uint64
	unauthenticated atomic.Uint64
	once            sync.Once
	stopping        atomic.Bool  // Shutdown began: streams end (guard.go)
	streams         sync.RWMutex // read-held by a stream's goroutine handling a message (guard.go)

	mu       sync.Mutex
	closed   bool
	sub      *eventstream.Subscription
	watchers map[int]func(address string)
	nextW    int
	warnedAt map[string]time.Time // refuse: the last refusal logged per node

	dialled dialled // connections dialled to peers (redial.go)
}

// NodeOption configures [StartNode].
type NodeOption func(*nodeConfig)

type nodeConfig struct {
	listen     string
	advertise  string
	serverOpts []grpc.ServerOption
	dialOpts   []grpc.DialOption
	retries    int
	logger     *slog.Logger
	tlsServer  *tls.Config
	tlsClient  *tls.Config
	cookie     string
	roles      Roles
	external   **remote.Config // RemoteConfig: build the remote's config, start nothing
}

// noHost is the address of an actor system without remote.
const noHost = "nonhost"

// DefaultListen is where a node listens unless told otherwise: loopback,
// on a port the system picks. Anything else needs mutual TLS
// ([WithMutualTLS]).
const DefaultListen = "127.0.0.1:0"

// WithListen sets the host:port the node listens on (default
// [DefaultListen]). Port 0 picks a free port; [Node.Address] reads it back.
func WithListen(hostport string) NodeOption { return func(c *nodeConfig) { c.listen = hostport } }

// WithAdvertisedAddress sets the host:port peers use to reach this node,
// when it is not the address listened on (behind NAT, or listening on
// 0.0.0.0). Replies travel over a connection the peer dials to it.
// Without it, a node listening on every address (0.0.0.0, :: or no
// host) advertises the machine's first non-loopback unicast address
// (IPv4 first; only IPv4 for 0.0.0.0), or loopback when it has none,
// with the port it listens on.
func WithAdvertisedAddress(hostport string) NodeOption {
	return func(c *nodeConfig) { c.advertise = hostport }
}

// MaxBatchBytes is the largest message a node started by [StartNode]
// takes from a proven peer (gRPC's default is 4 MiB). Protoactor remote
// sends what waits for one peer as one batch of up to a thousand
// messages, so a cluster registry's snapshot of 100,000 names (in parts
// of a thousand) arrives as batches of tens of megabytes; below this
// bound such a stream broke with ResourceExhausted and was retried
// forever. Only a peer past the handshake (cookie or mutual TLS) can
// send one.
const MaxBatchBytes = 64 << 20

// WithServerOptions adds gRPC server options (credentials, message size
// caps, more interceptors) after the node's own recovering interceptors,
// which always stay first.
func WithServerOptions(opts ...grpc.ServerOption) NodeOption {
	return func(c *nodeConfig) { c.serverOpts = append(c.serverOpts, opts...) }
}

// WithDialOptions adds gRPC dial options the node uses to reach its
// peers, after its own. A TLS setup passes its transport credentials
// here. A dialer given here (grpc.WithContextDialer) replaces the node's
// own, and with it the bounded redialling the cluster registry relies on
// to recover from a partition (see "Partitions" in the package doc).
func WithDialOptions(opts ...grpc.DialOption) NodeOption {
	return func(c *nodeConfig) { c.dialOpts = append(c.dialOpts, opts...) }
}

// WithMutualTLS makes the node speak TLS to its peers both ways and
// require their certificates: server secures its listener and must
// require and verify client certificates (ClientAuth
// tls.RequireAndVerifyClientCert, with ClientCAs), client secures the
// connections it dials (replies to a peer travel over one) and must carry
// a certificate. A peer without a certificate the node trusts cannot
// connect, so it can send nothing. StartNode refuses a server config that
// does not require client certificates, and [Node.MutualTLS] tells
// others (remote supervision, package server/manage) that the node has it.
// It adds to [WithServerOptions] and [WithDialOptions]; give no other
// credentials there.
func WithMutualTLS(server, client *tls.Config) NodeOption {
	return func(c *nodeConfig) { c.tlsServer, c.tlsClient = server, client }
}

// WithCookie sets the secret this node shares with the nodes it trusts
// when it runs without mutual TLS (at least [MinCookieLen] bytes). By
// default it is read from [CookieEnv], else from [CookieFile] in the
// user's home directory, which is created if missing. Nodes prove that
// they know it without sending it (see [StartNode]). With
// [WithMutualTLS] certificates prove identity and the cookie is not
// used.
func WithCookie(secret string) NodeOption { return func(c *nodeConfig) { c.cookie = secret } }

// WithRoles sets what other nodes may do to this one (default: every
// proven node may do everything). See [Roles].
func WithRoles(r Roles) NodeOption {
	return func(c *nodeConfig) {
		c.roles = r
		c.roles.set = true
		c.roles.Nodes = maps.Clone(r.Nodes)
	}
}

// WithConnectRetries sets how many times protoactor tries to connect to a
// peer before it gives up and reports the peer's address terminated
// (default 1; protoactor's own is 5). Each failed try blocks that peer's
// outgoing queue for 2 s, and the node's Shutdown waits for it: a node
// whose message went to a peer that had just exited took ten seconds to
// stop with five. One try is enough: the node's dialer keeps trying a
// peer that does not answer for up to a minute within it, and the
// cluster registry greets a lost peer again on its own.
func WithConnectRetries(n int) NodeOption { return func(c *nodeConfig) { c.retries = n } }

// WithNodeLogger sets where the node logs recovered panics (default: the
// actor system's logger).
func WithNodeLogger(l *slog.Logger) NodeOption { return func(c *nodeConfig) { c.logger = l } }

// StartNode starts protoactor remote on sys, safely:
//   - it listens on [DefaultListen] unless told otherwise, and reads back
//     the bound address ([Node.Address]; listening on every address, it
//     advertises one of the machine's, see [WithAdvertisedAddress]); it
//     refuses ([ErrInsecure]) to listen or advertise beyond loopback
//     without [WithMutualTLS];
//   - every other node must prove who it is before it is heard: with
//     mutual TLS its certificate names it, without, it proves that it
//     knows the cookie ([WithCookie]) by a challenge and response in
//     which the cookie never crosses the wire;
//   - what another node sends is checked and stamped with the proven
//     node and its roles ([WithRoles], [PeerOf]): a message whose
//     sender PID names another node is dropped, protoactor's Stop and
//     PoisonPill need [RoleControl], and the connection actors and the
//     management endpoint check the rest (counted in [NodeStats]);
//   - a taken address is an error matching [ErrAddrInUse] and
//     syscall.EADDRINUSE, where remote.Start panics;
//   - recovering gRPC unary and stream interceptors come first, so a
//     message of a type this node does not know, or a call to
//     protoactor's unimplemented ListProcesses or GetProcessDiagnostics,
//     ends that one stream or call with codes.Internal instead of the
//     process (counted in [NodeStats].Panics).
//
// remote.Start also silences gRPC's logger for the whole process
// (grpclog.SetLoggerV2), as any protoactor remote does.
func StartNode(sys *actor.ActorSystem, opts ...NodeOption) (*Node, error) {
	if sys == nil {
		return nil, fmt.Errorf("%w: nil actor system", ErrInvalid)
	}
	c := nodeConfig{listen: DefaultListen, retries: 1}
	for _, o := range opts {
		o(&c)
	}
	host, portStr, err := net.SplitHostPort(c.listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen address %q: %v", ErrInvalid, c.listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: listen port %q", ErrInvalid, portStr)
	}
	if c.retries < 1 {
		return nil, fmt.Errorf("%w: connect retries %d, want ≥ 1", ErrInvalid, c.retries)
	}
	if err := c.checkTLS(); err != nil {
		return nil, err
	}
	if c.tlsServer == nil {
		for _, a := range []string{c.listen, c.advertise} {
			if a != "" && !Loopback(a) {
				return nil, fmt.Errorf("%w: %s", ErrInsecure, a)
			}
		}
		if c.cookie == "" {
			if c.cookie, err = DefaultCookie(); err != nil {
				return nil, err
			}
		}
		if len(c.cookie) < MinCookieLen {
			return nil, fmt.Errorf("%w: a cookie of %d bytes, want ≥ %d", ErrInvalid, len(c.cookie), MinCookieLen)
		}
	}
	if port != 0 {
		// remote.Start would panic, and first rewrite gRPC's global
		// logger, which other remotes in this process are reading.
		l, err := net.Listen("tcp", c.listen)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%w: %s (%w)", ErrAddrInUse, c.listen, syscall.EADDRINUSE)
			}
			if strings.Contains(err.Error(), c.listen) { // a *net.OpError names it
				return nil, fmt.Errorf("etcp/registry: %w", err)
			}
			return nil, fmt.Errorf("etcp/registry: listening on %s: %w", c.listen, err)
		}
		_ = l.Close()
	}
	if c.advertise == "" && wildcard(host) {
		// remote would name the node after its socket, "[::]:port",
		// which no peer can dial: advertise an address of this machine.
		if port == 0 {
			if port, err = freePort(c.listen); err != nil {
				return nil, err
			}
			c.listen = net.JoinHostPort(host, strconv.Itoa(port))
		}
		c.advertise = net.JoinHostPort(advertisedHost(host), strconv.Itoa(port))
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // remote joins host and port with a bare colon
	}
	n := &Node{sys: sys, owned: true, log: c.logger, roles: c.roles}
	n.dialled.done = make(chan struct{})
	c.dialOpts = append(n.dialOptions(), c.dialOpts...)
	n.cap.Store(uint32(RoleAll))
	if n.log == nil {
		n.log = sys.Logger()
	}
	server := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(n.recoverUnary, n.guardUnary),
		grpc.ChainStreamInterceptor(n.recoverStream, n.guardStream),
		grpc.MaxRecvMsgSize(MaxBatchBytes),
	}, c.serverOpts...)
	if c.tlsServer != nil {
		server = append(server, grpc.Creds(credentials.NewTLS(c.tlsServer)))
		c.dialOpts = append(c.dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(c.tlsClient)))
		n.tls = c.tlsClient.Clone()
	} else {
		creds := newCookieCreds(c.cookie)
		creds.refused = n.unauthenticatedFrom
		n.cookie = creds
		server = append(server, grpc.Creds(creds))
		c.dialOpts = append(c.dialOpts, grpc.WithTransportCredentials(creds))
	}
	ropts := []remote.ConfigOption{remote.WithServerOptions(server...)}
	if len(c.dialOpts) > 0 {
		ropts = append(ropts, remote.WithDialOptions(c.dialOpts...))
	}
	if c.advertise != "" {
		ropts = append(ropts, remote.WithAdvertisedHost(c.advertise))
	}
	cfg := remote.Configure(host, port, ropts...)
	cfg.MaxRetryCount = c.retries
	if c.external != nil {
		n.prepare(c.advertise == "" && port == 0, c.listen)
		*c.external = cfg
		return n, nil
	}
	n.remote = remote.NewRemote(sys, cfg)
	if err := startRemote(n.remote); err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("%w: %s (%w)", ErrAddrInUse, c.listen, syscall.EADDRINUSE)
		}
		return nil, fmt.Errorf("etcp/registry: starting remote on %s: %w", c.listen, err)
	}
	n.addr = sys.Address()
	n.listen = c.listen
	if c.advertise == "" && port == 0 {
		if _, p, err := net.SplitHostPort(n.addr); err == nil {
			n.listen = net.JoinHostPort(strings.Trim(host, "[]"), p)
		}
	}
	n.subscribe()
	guarded.set(sys, n)
	return n, nil
}

// wildcard reports whether host means every address of the machine
// ("", 0.0.0.0, ::).
func wildcard(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "" || err == nil && a.IsUnspecified()
}

// freePort is a port the system picks for listen (host:0).
func freePort(listen string) (int, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return 0, fmt.Errorf("etcp/registry: listening on %s: %w", listen, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// advertisedHost is the host a node listening on every address (host is
// "", 0.0.0.0 or ::) advertises when not told ([WithAdvertisedAddress]):
// the first non-loopback unicast address of the machine's interfaces, in
// their order (IPv4 only for 0.0.0.0; an IPv4 one before any IPv6 one
// otherwise), or loopback (127.0.0.1, or ::1 for ::) when there is none.
func advertisedHost(host string) string {
	var v4, v6 string
	if as, err := net.InterfaceAddrs(); err == nil {
		for _, a := range as {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || !ipn.IP.IsGlobalUnicast() {
				continue
			}
			if ipn.IP.To4() != nil && v4 == "" {
				v4 = ipn.IP.String()
			} else if ipn.IP.To4() == nil && v6 == "" {
				v6 = ipn.IP.String()
			}
		}
	}
	switch {
	case v4 != "":
		return v4
	case host != "0.0.0.0" && v6 != "":
		return v6
	case host == "::":
		return "::1"
	}
	return "127.0.0.1"
}

// Loopback reports whether hostport's host (or hostport, a bare host) is
// a loopback address or "localhost".
func Loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// checkTLS validates WithMutualTLS.
func (c *nodeConfig) checkTLS() error {
	s, cl := c.tlsServer, c.tlsClient
	switch {
	case s == nil && cl == nil:
		return nil
	case s == nil || cl == nil:
		return fmt.Errorf("%w: mutual TLS needs both a server and a client config", ErrInvalid)
	case s.ClientAuth != tls.RequireAndVerifyClientCert:
		return fmt.Errorf("%w: mutual TLS: the server config must set ClientAuth to tls.RequireAndVerifyClientCert", ErrInvalid)
	case len(s.Certificates) == 0 && s.GetCertificate == nil && s.GetConfigForClient == nil:
		return fmt.Errorf("%w: mutual TLS: the server config has no certificate", ErrInvalid)
	case len(cl.Certificates) == 0 && cl.GetClientCertificate == nil:
		return fmt.Errorf("%w: mutual TLS: the client config has no certificate", ErrInvalid)
	}
	return nil
}

// subscribe listens for protoactor's lost-endpoint events. They run in
// the goroutine that noticed the loss; taking n.mu there also orders
// them before Shutdown.
func (n *Node) subscribe() {
	// Subscribe and a type check, not SubscribeWithPredicate: protoactor
	// sets the predicate after the subscription is published, a data
	// race with an event published meanwhile.
	n.sub = n.sys.EventStream.Subscribe(func(ev any) {
		t, ok := ev.(*remote.EndpointTerminatedEvent)
		if !ok {
			return
		}
		addr := t.Address
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.closed {
			return
		}
		n.lost.Add(1)
		for _, fn := range n.watchers {
			fn(addr)
		}
	})
}

// onEndpointLost calls fn with the address of every peer whose
// connection protoactor reports lost (EndpointTerminatedEvent: the
// connection broke, the peer said goodbye, or connecting failed), until
// cancel. fn must not block.
func (n *Node) onEndpointLost(fn func(address string)) (cancel func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.watchers == nil {
		n.watchers = make(map[int]func(string))
	}
	id := n.nextW
	n.nextW++
	n.watchers[id] = fn
	return func() {
		n.mu.Lock()
		delete(n.watchers, id)
		n.mu.Unlock()
	}
}

func startRemote(r *remote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	r.Start()
	return nil
}

// AttachNode wraps a remote the user started on sys. The library cannot
// add its interceptors to it: install them yourself (see the package
// doc) or prefer [StartNode]. Shutdown on an attached node does nothing.
// A remote started with the config of [RemoteConfig] (by a protoactor
// cluster's StartMember) is the exception: AttachNode returns the node
// RemoteConfig prepared, guarded.
func AttachNode(sys *actor.ActorSystem) (n *Node, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = nil, fmt.Errorf("%w: no remote started on this actor system", ErrInvalid)
		}
	}()
	r := remote.GetRemote(sys)
	addr := sys.Address()
	if r == nil || addr == "" || addr == noHost {
		return nil, fmt.Errorf("%w: no remote started on this actor system", ErrInvalid)
	}
	if g := guarded.get(sys); g != nil && g.ext != nil {
		return g.attach(r) // its guard is in the remote's config (RemoteConfig)
	}
	n = &Node{sys: sys, remote: r, addr: addr, listen: addr, log: sys.Logger()}
	n.subscribe()
	return n, nil
}

// Address is the node's address as its peers reach it (host:port).
func (n *Node) Address() string { return n.addr }

// Listen is the address the node listens on, host:port, with the port
// the system picked for port 0 (unless an advertised address hides it:
// then the port is as given to [WithListen]). For a node made by
// [AttachNode] it is the node's address.
func (n *Node) Listen() string { return n.listen }

// MutualTLS reports whether the node was started [WithMutualTLS]: every
// peer must then present a certificate it trusts. A node made by
// [AttachNode] reports false, whatever its remote does.
func (n *Node) MutualTLS() bool { return n.tls != nil }

// ClientTLS returns a copy of the TLS config the node dials its peers with
// ([WithMutualTLS]), or nil.
func (n *Node) ClientTLS() *tls.Config {
	if n.tls == nil {
		return nil
	}
	return n.tls.Clone()
}

// System is the node's actor system.
func (n *Node) System() *actor.ActorSystem { return n.sys }

// Remote is the node's protoactor remote.
func (n *Node) Remote() *remote.Remote { return n.remote }

// PID returns a new PID for actor id at address. Build PIDs afresh for
// each actor system: a PID caches the first system that used it, and
// keeps routing through it.
func (n *Node) PID(address, id string) *actor.PID { return actor.NewPID(address, id) }

// NodeStats counts what a node's safety net caught.
type NodeStats struct {
	// Panics is how many gRPC calls or streams ended in a recovered
	// panic (an unknown message type, an unimplemented call).
	Panics uint64
	// EndpointsLost is how many times protoactor reported a peer's
	// connection lost (EndpointTerminatedEvent).
	EndpointsLost uint64
	// Unauthenticated is how many connections failed the cookie's
	// challenge, and how many streams claimed a node their certificate
	// does not name. (A certificate the node does not trust fails in the
	// TLS handshake, before the node hears of it.)
	Unauthenticated uint64
	// Refused is how many messages from proven nodes were dropped: a
	// sender PID naming another node, a Stop without RoleControl, a
	// malformed envelope, a call to protoactor's unimplemented services.
	Refused uint64
}

// Stats returns the node's counters.
func (n *Node) Stats() NodeStats {
	return NodeStats{Panics: n.panics.Load(), EndpointsLost: n.lost.Load(),
		Unauthenticated: n.unauthenticated.Load(), Refused: n.refused.Load()}
}

// Shutdown stops the remote gracefully (protoactor's Shutdown(true): its
// endpoints, their goroutines and connections, then the gRPC server),
// which leaves no goroutine behind. It can take up to 10 s when a peer
// does not close its side, or while a connection to a dead peer is still
// being retried. It does not shut the actor system down. Calling it again
// does nothing. Streams from peers end with the first message they
// bring after Shutdown began: protoactor's own Shutdown writes a flag
// that their goroutines read unsynchronised, so Shutdown first waits
// for them to finish the message at hand, and a stream that ends while
// protoactor walks its streams waits until the walk has passed it: the
// walk sends on each stream's channel, which protoactor closes as the
// stream ends (guard.go). (At the pin,
// protoactor's endpoint manager also clears its table without a lock
// while a lost-endpoint event may still be reading it; a peer that
// disconnects at the very moment of Shutdown can trip the race
// detector.)
func (n *Node) Shutdown() {
	n.once.Do(func() {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		n.sys.EventStream.Unsubscribe(n.sub)
		if n.owned {
			close(n.dialled.done) // dials still waiting for a peer give up
		}
		if n.owned || n.ext != nil {
			// Let every stream's goroutine finish its message first
			// (see guard.go).
			n.stopping.Store(true)
			n.streams.Lock()
			//lint:ignore SA2001 an empty critical section is the barrier
			n.streams.Unlock()
			if n.owned { // else the remote is the cluster's to shut down
				n.remote.Shutdown(true)
			}
			guarded.set(n.sys, nil)
		}
	})
}

func (n *Node) recovered(method string, p any) error {
	n.panics.Add(1)
	n.log.Error("etcp/registry: recovered a panic in a remote call", slog.String("method", method), slog.Any("panic", p))
	return status.Errorf(codes.Internal, "etcp: remote panic: %v", p)
}

func (n *Node) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, n.recovered(info.FullMethod, p)
		}
	}()
	return h(ctx, req)
}

func (n *Node) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = n.recovered(info.FullMethod, p)
		}
	}()
	return h(srv, ss)
}
