package registry

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The guard: what a node started by StartNode checks on every stream
// another node opens to it, before protoactor delivers anything.
//
//  1. The stream's connection is authenticated: mutual TLS (gRPC checked
//     the certificate chain) or the cookie handshake (cookie.go).
//  2. Its first message, protoactor's ConnectRequest, names the node the
//     peer claims to be. With mutual TLS the certificate must name that
//     node: if it has etcp URI SANs (etcp://host:port), one of them is
//     the claimed address; otherwise its DNS or IP SANs cover the
//     claimed host. A claim the certificate does not back ends the
//     stream (Unauthenticated).
//  3. Every message after it is checked, and dropped and counted if it
//     fails: a sender PID must be on the proven node; protoactor's Stop
//     and PoisonPill, and remote spawns (ActorPidRequest), need
//     RoleControl; a Watch or Unwatch needs RoleRead and a watcher on the
//     proven node; a Terminated must be about an actor of that node.
//  4. Every message that passes is stamped with the proven node and its
//     roles (PeerOf), replacing whatever the sender wrote there. The
//     connection actors, the management endpoint and the registry decide
//     with that stamp.
//
// The two unary calls of protoactor's service are unimplemented (a call
// would panic): the guard refuses them.

// guardUnary refuses protoactor's unimplemented unary calls.
func (n *Node) guardUnary(_ context.Context, _ any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
	n.refused.Add(1)
	return nil, status.Errorf(codes.Unimplemented, "etcp: %s is not served", info.FullMethod)
}

// guardStream checks a stream as the package doc above says.
func (n *Node) guardStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	g := &guardedStream{ServerStream: ss, n: n, reached: make(chan struct{})}
	if p, ok := peer.FromContext(ss.Context()); ok {
		g.auth = p.AuthInfo
		if p.Addr != nil {
			g.from = p.Addr.String()
		}
	}
	defer g.idle()
	return h(srv, g)
}

// Shutting down. At the pin, protoactor's Remote.Shutdown(true) first
// writes a plain bool of its endpoint reader (suspend), which every
// stream's goroutine reads, unsynchronised, after each message it
// receives: a peer that sends while the node shuts down is a data race.
// So a stream's goroutine holds n.streams (read) from the moment
// RecvMsg returns a message until it calls RecvMsg again, and
// Node.Shutdown, once it has marked the node stopping, takes n.streams
// (write) once before calling remote.Shutdown: every goroutine that
// read the bool has then let go of it, and those that receive a message
// later see the node stopping and end their stream instead of reading
// it.

// A stream must not end while protoactor's shutdown walks its streams:
// at the pin, the endpoint manager sends on each stream's channel, which
// protoactor closes as the stream ends (a send on a closed channel, a
// panic, and a data race). So once the node is stopping, a stream that
// would end (its peer gone, or the node's refusal) first waits until the
// walk has reached it, which protoactor shows by sending the peer a
// DisconnectRequest on it (seen in SendMsg), for at most endWait.

// endWait bounds how long an ending stream waits for the shutdown's walk.
const endWait = 2 * time.Second

// end returns err, the stream's end, once it is safe to end.
func (g *guardedStream) end(err error) error {
	if g.n.stopping.Load() {
		t := time.NewTimer(endWait)
		defer t.Stop()
		select {
		case <-g.reached:
		case <-t.C:
		}
	}
	return err
}

// SendMsg notes protoactor's DisconnectRequest: the shutdown's walk has
// reached this stream.
func (g *guardedStream) SendMsg(m any) error {
	if rm, ok := m.(*remote.RemoteMessage); ok && rm.GetDisconnectRequest() != nil {
		g.reachedOnce.Do(func() { close(g.reached) })
	}
	return g.ServerStream.SendMsg(m)
}

// busy marks the stream's goroutine as handling a message; false when
// the node is stopping, which ends the stream.
func (g *guardedStream) busy() bool {
	g.n.streams.RLock()
	if g.n.stopping.Load() {
		g.n.streams.RUnlock()
		return false
	}
	g.held = true
	return true
}

// idle marks the stream's goroutine as done with its last message.
func (g *guardedStream) idle() {
	if g.held {
		g.held = false
		g.n.streams.RUnlock()
	}
}

// guardedStream is one stream from another node.
type guardedStream struct {
	grpc.ServerStream
	n    *Node
	auth credentials.AuthInfo
	from string // the remote socket address, for logs

	peer    string // the proven node's address, once connected
	base    Role   // its roles by the node's Roles
	stamped Role   // the roles in header
	header  *remote.MessageHeader
	held    bool // n.streams is read-locked (busy)

	reached     chan struct{} // closed when the shutdown's walk reached the stream (end)
	reachedOnce sync.Once
}

// RecvMsg receives the peer's next message and checks it (see the
// guard's description above).
func (g *guardedStream) RecvMsg(m any) error {
	g.idle()
	if err := g.ServerStream.RecvMsg(m); err != nil {
		return g.end(err)
	}
	if !g.busy() {
		return g.end(status.Error(codes.Unavailable, "etcp: the node is shutting down"))
	}
	rm, ok := m.(*remote.RemoteMessage)
	if !ok {
		return nil
	}
	switch t := rm.MessageType.(type) {
	case *remote.RemoteMessage_ConnectRequest:
		if err := g.connect(t.ConnectRequest); err != nil {
			return g.end(err)
		}
	case *remote.RemoteMessage_MessageBatch:
		if g.peer == "" {
			g.n.refused.Add(1)
			return g.end(status.Error(codes.PermissionDenied, "etcp: messages before the node said who it is"))
		}
		g.filter(t.MessageBatch)
	}
	return nil
}

// connect proves the node a stream's ConnectRequest claims to be.
func (g *guardedStream) connect(c *remote.ConnectRequest) error {
	sc := c.GetServerConnection()
	switch {
	case sc == nil:
		return g.unauthenticated("", fmt.Errorf("%w: a connection that names no node", ErrUnauthenticated))
	case g.peer != "" && sc.Address != g.peer:
		return g.unauthenticated(sc.Address, fmt.Errorf("%w: the stream of %s now claims %s", ErrUnauthenticated, g.peer, sc.Address))
	}
	names, err := g.n.prove(g.auth, sc.Address)
	if err != nil {
		return g.unauthenticated(sc.Address, err)
	}
	g.peer = sc.Address
	g.base = g.n.roles.of(sc.Address, names)
	g.stamp()
	return nil
}

func (g *guardedStream) unauthenticated(claim string, err error) error {
	g.n.unauthenticatedFrom(g.from+" claiming "+claim, err)
	return status.Error(codes.Unauthenticated, err.Error())
}

// unauthenticatedFrom counts and logs a node that could not prove who it
// is (its socket address, and what it claimed).
func (n *Node) unauthenticatedFrom(from string, err error) {
	n.unauthenticated.Add(1)
	n.log.Warn("etcp/registry: refused a node", slog.String("from", from), slog.Any("err", err))
}

// prove checks that the connection's credentials back the claim to be
// the node at address, and returns the names the node is known by.
func (n *Node) prove(auth credentials.AuthInfo, address string) ([]string, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("%w: bad node address %q", ErrUnauthenticated, address)
	}
	switch a := auth.(type) {
	case credentials.TLSInfo:
		if len(a.State.PeerCertificates) == 0 {
			return nil, fmt.Errorf("%w: no client certificate", ErrUnauthenticated)
		}
		return certNames(a.State.PeerCertificates[0], address, host)
	case cookieAuth:
		return nil, nil // the group's cookie: the claim stands
	}
	return nil, fmt.Errorf("%w: a connection with neither mutual TLS nor the cookie", ErrUnauthenticated)
}

// certNames checks that cert names the node at address and returns the
// names it carries.
func certNames(cert *x509.Certificate, address, host string) ([]string, error) {
	var names []string
	var etcp []string
	for _, u := range cert.URIs {
		names = append(names, u.String())
		if u.Scheme == "etcp" {
			etcp = append(etcp, u.Host)
		}
	}
	names = append(names, cert.DNSNames...)
	if cert.Subject.CommonName != "" {
		names = append(names, cert.Subject.CommonName)
	}
	if len(etcp) > 0 {
		for _, a := range etcp {
			if a == address {
				return names, nil
			}
		}
		return nil, fmt.Errorf("%w: certificate %q is for %v, not %s", ErrUnauthenticated, cert.Subject.CommonName, etcp, address)
	}
	if err := cert.VerifyHostname(host); err != nil {
		return nil, fmt.Errorf("%w: certificate %q does not name %s: %v", ErrUnauthenticated, cert.Subject.CommonName, host, err)
	}
	return names, nil
}

// NodeURI is the URI SAN that binds a certificate to one node, host and
// port: etcp://host:port. A certificate with one is accepted for that
// node only, not for every node on its host.
func NodeURI(address string) *url.URL { return &url.URL{Scheme: "etcp", Host: address} }

// stamp builds the header every passing message carries.
func (g *guardedStream) stamp() {
	g.stamped = g.base & g.n.limit()
	g.header = &remote.MessageHeader{HeaderData: map[string]string{
		peerHeader:  g.peer,
		rolesHeader: strconv.Itoa(int(g.stamped)),
	}}
}

// filter drops the envelopes of b that fail the checks and stamps the
// others, in place.
func (g *guardedStream) filter(b *remote.MessageBatch) {
	if g.base&g.n.limit() != g.stamped {
		g.stamp() // the node's limit changed (management endpoint)
	}
	kept := b.Envelopes[:0]
	for _, e := range b.Envelopes {
		if why := g.check(b, e); why != "" {
			g.n.refuse(g.peer, fmt.Errorf("%w: %s", ErrForbidden, why))
			continue
		}
		if e.MessageHeader == nil {
			e.MessageHeader = g.header // shared: receivers only read it
		} else {
			h := make(map[string]string, len(e.MessageHeader.HeaderData)+2)
			for k, v := range e.MessageHeader.HeaderData {
				h[k] = v
			}
			h[peerHeader], h[rolesHeader] = g.header.HeaderData[peerHeader], g.header.HeaderData[rolesHeader]
			e.MessageHeader = &remote.MessageHeader{HeaderData: h}
		}
		kept = append(kept, e)
	}
	clear(b.Envelopes[len(kept):])
	b.Envelopes = kept
}

// check returns why an envelope is refused, or "".
func (g *guardedStream) check(b *remote.MessageBatch, e *remote.MessageEnvelope) string {
	if e.TypeId < 0 || int(e.TypeId) >= len(b.TypeNames) || e.Target < 0 || int(e.Target) >= len(b.Targets) ||
		e.Sender < 0 || int(e.Sender) > len(b.Senders) {
		return "an envelope with an index out of its batch"
	}
	if e.Sender > 0 {
		if s := b.Senders[e.Sender-1]; s == nil || s.Address != g.peer {
			return "a sender PID on another node than the one proven"
		}
	}
	var need Role
	switch b.TypeNames[e.TypeId] {
	case "actor.Stop", "actor.PoisonPill", "remote.ActorPidRequest":
		need = RoleControl
	case "actor.Watch":
		var w actor.Watch
		if proto.Unmarshal(e.MessageData, &w) != nil || w.Watcher.GetAddress() != g.peer {
			return "a watch for a watcher on another node"
		}
		need = RoleRead
	case "actor.Unwatch":
		var w actor.Unwatch
		if proto.Unmarshal(e.MessageData, &w) != nil || w.Watcher.GetAddress() != g.peer {
			return "an unwatch for a watcher on another node"
		}
	case "actor.Terminated":
		var t actor.Terminated
		if proto.Unmarshal(e.MessageData, &t) != nil || t.Who.GetAddress() != g.peer {
			return "a termination of an actor on another node"
		}
	}
	if !g.stamped.Has(need) {
		return b.TypeNames[e.TypeId] + " needs " + need.String() + ", the node has " + g.stamped.String()
	}
	return ""
}

// limit is the cap on every node's roles (see [Node.Limit]).
func (n *Node) limit() Role { return Role(n.cap.Load()) }

// Limit caps what any other node may do here at most, whatever [Roles]
// says: a read-only management endpoint (package server/manage) limits
// its node to [RoleRead], so that read-only holds through every path,
// not only the endpoint's verbs. Streams already open take the new cap
// with their next message.
func (n *Node) Limit(max Role) { n.cap.Store(uint32(max)) }

// guarded holds the nodes started by StartNode, by actor system.
var guarded nodeSet

// Guarded reports whether sys's remote was started by [StartNode], whose
// guard proves every other node and stamps what reaches an actor from
// it ([PeerOf]). A message from another node reaching a system that is
// not guarded (its remote started by the user, [AttachNode]) carries no
// proof: only the user's own gRPC options protect it.
func Guarded(sys *actor.ActorSystem) bool { return guarded.get(sys) != nil }

// nodeSet maps actor systems to their nodes, read without a lock.
type nodeSet struct {
	v atomic.Pointer[map[*actor.ActorSystem]*Node]
}

func (s *nodeSet) get(sys *actor.ActorSystem) *Node {
	if m := s.v.Load(); m != nil {
		return (*m)[sys]
	}
	return nil
}

// set maps sys to n, or unmaps it for a nil n.
func (s *nodeSet) set(sys *actor.ActorSystem, n *Node) {
	for {
		old := s.v.Load()
		var m map[*actor.ActorSystem]*Node
		if old != nil {
			m = maps.Clone(*old)
		}
		if m == nil {
			m = map[*actor.ActorSystem]*Node{}
		}
		if n != nil {
			m[sys] = n
		} else {
			delete(m, sys)
		}
		if s.v.CompareAndSwap(old, &m) {
			return
		}
	}
}

// refuse counts a refused message and logs the first refusal of each
// node in every minute.
func (n *Node) refuse(node string, err error) {
	n.refused.Add(1)
	now := time.Now()
	n.mu.Lock()
	log := now.Sub(n.warnedAt[node]) >= time.Minute
	if log {
		if n.warnedAt == nil || len(n.warnedAt) >= 1024 {
			n.warnedAt = map[string]time.Time{} // bounded, whoever claims what
		}
		n.warnedAt[node] = now
	}
	n.mu.Unlock()
	if log {
		n.log.Warn("etcp/registry: refused a message from another node", slog.String("node", node), slog.Any("err", err))
	}
}
