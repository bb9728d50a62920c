package manage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// Client talks to the management endpoint of one node from a node of its
// own (registry.StartNode; replies travel over a connection the endpoint's
// node dials back to it). It holds nothing but addresses: there is
// nothing to close. Its methods are safe for concurrent use; each takes a
// context that bounds it (5 s when it has no deadline).
type Client struct {
	node  *registry.Node
	addr  string
	hello Hello
}

// Hello is what the endpoint said of itself when the client dialled it.
type Hello struct {
	Protocol  int
	Node      string // the node's address
	Actions   bool   // action verbs are allowed
	MutualTLS bool   // the node requires client certificates
	Cluster   bool   // cluster-wide queries fan out to its cluster registry's members
	Servers   []string
	Pools     []string
}

// probeWait bounds the connection probe of Dial.
const probeWait = 3 * time.Second

// Dial connects node to the management endpoint of the node at addr
// (host:port, its registry.Node address) and asks what it serves. It
// fails fast and clearly: ErrUnreachable when nothing accepts at addr,
// ErrRefused when the TLS handshake fails (this node's certificate
// refused, the other's not trusted, or TLS on one side only), and
// ErrNoEndpoint when the node runs but has no endpoint.
func Dial(ctx context.Context, node *registry.Node, addr string) (*Client, error) {
	if node == nil {
		return nil, fmt.Errorf("%w: nil node", ErrInvalid)
	}
	if err := probe(ctx, node, addr); err != nil {
		return nil, err
	}
	c := &Client{node: node, addr: addr}
	r, err := get[*managepb.HelloReply](ctx, c, &managepb.Hello{Protocol: Protocol})
	if err != nil {
		return nil, err
	}
	c.hello = Hello{Protocol: int(r.Protocol), Node: r.Node, Actions: r.Actions, MutualTLS: r.MutualTls,
		Cluster: r.Cluster, Servers: r.Servers, Pools: r.Pools}
	return c, nil
}

// probe checks that the node at addr accepts this node (Node.Probe).
func probe(ctx context.Context, node *registry.Node, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, probeWait)
	defer cancel()
	err := node.Probe(ctx, addr)
	switch {
	case errors.Is(err, registry.ErrUnreachable):
		return err
	case err != nil:
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return nil
}

// Addr is the address of the node the client talks to.
func (c *Client) Addr() string { return c.addr }

// Hello is what the endpoint said of itself at Dial.
func (c *Client) Hello() Hello { return c.hello }

// request sends req to the endpoint and returns its reply, or the Error
// it answered with as a *RemoteError.
func (c *Client) request(ctx context.Context, req proto.Message) (proto.Message, error) {
	res, err := actors.Request(ctx, c.node.System().Root, actor.NewPID(c.addr, Name), req)
	if err != nil {
		if errors.Is(err, actors.ErrClosed) {
			return nil, fmt.Errorf("%w at %s", ErrNoEndpoint, c.addr)
		}
		return nil, atNode(c.addr, err)
	}
	switch r := res.(type) {
	case *managepb.Error:
		return nil, fromError(c.addr, r)
	case proto.Message:
		return r, nil
	}
	return nil, fmt.Errorf("%w: %s answered %T", ErrFailed, c.addr, res)
}

// get is request for a reply of type T.
func get[T proto.Message](ctx context.Context, c *Client, req proto.Message) (T, error) {
	var zero T
	res, err := c.request(ctx, req)
	if err != nil {
		return zero, err
	}
	r, ok := res.(T)
	if !ok {
		return zero, fmt.Errorf("%w: %s answered %T", ErrFailed, c.addr, res)
	}
	return r, nil
}

// ClusterError lists the nodes of a cluster-wide query that did not
// answer; the answers of the others come with it.
type ClusterError struct{ Nodes []NodeError }

func (e *ClusterError) Error() string {
	parts := make([]string, len(e.Nodes))
	for i, n := range e.Nodes {
		parts[i] = n.Node + ": " + n.Err
	}
	return "etcp/manage: nodes did not answer: " + strings.Join(parts, "; ")
}

func clusterErr(es []*managepb.NodeError) error {
	if len(es) == 0 {
		return nil
	}
	return &ClusterError{Nodes: fromNodeErrors(es)}
}

// Servers lists the servers the endpoint manages.
func (c *Client) Servers(ctx context.Context) ([]Server, error) {
	out, err := c.servers(ctx, false)
	return out, err
}

// ClusterServers lists the servers of every node of the endpoint's
// cluster registry, in one call: the endpoint asks the others. Nodes
// that did not answer are named in a *ClusterError, returned with the
// servers of the rest.
func (c *Client) ClusterServers(ctx context.Context) ([]Server, error) { return c.servers(ctx, true) }

func (c *Client) servers(ctx context.Context, cluster bool) ([]Server, error) {
	r, err := get[*managepb.ServerList](ctx, c, &managepb.ListServers{Cluster: cluster})
	if err != nil {
		return nil, err
	}
	out := make([]Server, 0, len(r.Servers))
	for _, s := range r.Servers {
		out = append(out, fromServer(s))
	}
	return out, clusterErr(r.Errors)
}

// Acceptors lists a server's acceptors.
func (c *Client) Acceptors(ctx context.Context, server string) ([]Acceptor, error) {
	r, err := get[*managepb.AcceptorList](ctx, c, &managepb.ListAcceptors{Server: server})
	if err != nil {
		return nil, err
	}
	out := make([]Acceptor, 0, len(r.Acceptors))
	for _, a := range r.Acceptors {
		out = append(out, Acceptor{ID: int(a.Id), PID: a.Pid, Mode: a.Mode, Restarts: a.Restarts})
	}
	return out, nil
}

// Pools lists the pools the endpoint manages.
func (c *Client) Pools(ctx context.Context) ([]Pool, error) { return c.pools(ctx, false) }

// ClusterPools lists the pools of every node of the endpoint's cluster
// (see ClusterServers).
func (c *Client) ClusterPools(ctx context.Context) ([]Pool, error) { return c.pools(ctx, true) }

func (c *Client) pools(ctx context.Context, cluster bool) ([]Pool, error) {
	r, err := get[*managepb.PoolList](ctx, c, &managepb.ListPools{Cluster: cluster})
	if err != nil {
		return nil, err
	}
	out := make([]Pool, 0, len(r.Pools))
	for _, p := range r.Pools {
		out = append(out, fromPool(p))
	}
	return out, clusterErr(r.Errors)
}

// Conns lists the top connections that match q (the top DefaultLimit
// by bytes for a zero Query).
func (c *Client) Conns(ctx context.Context, q Query) (ConnList, error) { return c.conns(ctx, q, false) }

// ClusterConns is Conns across every node of the endpoint's cluster: the
// top q.Limit of all (see ClusterServers).
func (c *Client) ClusterConns(ctx context.Context, q Query) (ConnList, error) {
	return c.conns(ctx, q, true)
}

// Clients lists the client connections of the node: those whose owner is
// not a managed server or pool (at most MaxLimit, by owner and id).
func (c *Client) Clients(ctx context.Context) ([]Conn, error) {
	l, err := c.Conns(ctx, Query{Kind: KindClient, Sort: SortID, Limit: MaxLimit})
	return l.Conns, err
}

func (c *Client) conns(ctx context.Context, q Query, cluster bool) (ConnList, error) {
	if q.Limit < 0 {
		return ConnList{}, fmt.Errorf("%w: limit %d", ErrInvalid, q.Limit)
	}
	req := &managepb.ListConns{Filter: &managepb.Filter{Owner: q.Owner, PeerPrefix: q.PeerPrefix, State: q.State,
		MinBytes: q.MinBytes, Kind: managepb.OwnerKind(q.Kind)}, Sort: managepb.SortKey(q.Sort),
		Limit: uint32(min(q.Limit, MaxLimit)), Cluster: cluster}
	r, err := get[*managepb.ConnList](ctx, c, req)
	if err != nil {
		return ConnList{}, err
	}
	out := ConnList{Total: int(r.Total), Matched: int(r.Matched), Conns: make([]Conn, 0, len(r.Conns))}
	for _, pc := range r.Conns {
		out.Conns = append(out.Conns, fromConn(pc))
	}
	return out, clusterErr(r.Errors)
}

// Inspect describes one connection: its statistics, its handler's state
// (client.State, as fmt %+v renders it) and, while the endpoint traces it,
// its last trace events.
func (c *Client) Inspect(ctx context.Context, ref ConnRef) (Detail, error) {
	r, err := get[*managepb.ConnDetail](ctx, c, &managepb.Inspect{Conn: refPB(ref)})
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Conn: fromConn(r.Conn), State: r.State, StateType: r.StateType, StateError: r.StateError,
		Tracing: r.Tracing}
	for _, ev := range r.Trace {
		d.Trace = append(d.Trace, fromTrace(ev))
	}
	return d, nil
}

// payloadPB wraps a call's or cast's payload: a string or []byte, which
// the handler receives as such.
func payloadPB(p any) (*managepb.Payload, error) {
	switch v := p.(type) {
	case nil:
		return nil, nil
	case string:
		return &managepb.Payload{Value: &managepb.Payload_Text{Text: v}}, nil
	case []byte:
		return &managepb.Payload{Value: &managepb.Payload_Data{Data: v}}, nil
	}
	return nil, fmt.Errorf("%w: payload %T: want a string or []byte", ErrInvalid, p)
}

// budget is how long a request may take: ctx's deadline, or 5 s.
func budget(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return actors.DefaultRequestTimeout
}

// Call makes a call to the connection's HandleCall with payload (a string
// or []byte, which the handler receives as such) and returns its reply.
// A reply that is an error is returned as an error with its text. An
// action verb: a read-only endpoint refuses it with ErrReadOnly.
func (c *Client) Call(ctx context.Context, ref ConnRef, payload any) (Reply, error) {
	p, err := payloadPB(payload)
	if err != nil {
		return Reply{}, err
	}
	// The endpoint gives up a little before this client does, so its
	// answer arrives.
	timeout := max(budget(ctx)*9/10, time.Millisecond)
	r, err := get[*managepb.CallReply](ctx, c, &managepb.CallConn{Conn: refPB(ref), Payload: p,
		TimeoutMs: uint32(timeout.Milliseconds())})
	if err != nil {
		return Reply{}, err
	}
	if r.Error != "" {
		return Reply{Type: r.Type}, errors.New(r.Error)
	}
	out := Reply{Type: r.Type}
	switch v := r.Value.(type) {
	case *managepb.CallReply_Text:
		out.Value = v.Text
	case *managepb.CallReply_Data:
		out.Value = v.Data
	case *managepb.CallReply_Formatted:
		out.Value = v.Formatted
	}
	return out, nil
}

// Cast sends payload (a string or []byte) to the connection's HandleCast.
// An action verb.
func (c *Client) Cast(ctx context.Context, ref ConnRef, payload any) error {
	p, err := payloadPB(payload)
	if err != nil {
		return err
	}
	_, err = get[*managepb.Ok](ctx, c, &managepb.CastConn{Conn: refPB(ref), Payload: p})
	return err
}

// Stop ends the connection; its Terminate sees an error whose text is
// reason (none when reason is empty). It returns once Terminate has run.
// An action verb.
func (c *Client) Stop(ctx context.Context, ref ConnRef, reason string) error {
	_, err := get[*managepb.Ok](ctx, c, &managepb.StopConn{Conn: refPB(ref), Reason: reason})
	return err
}

// Hibernate hibernates the connection (actors.Hibernate): it passivates
// once idle, until anything wakes it. An action verb.
func (c *Client) Hibernate(ctx context.Context, ref ConnRef) error {
	_, err := get[*managepb.Ok](ctx, c, &managepb.HibernateConn{Conn: refPB(ref)})
	return err
}

// Wake wakes a hibernated connection. An action verb.
func (c *Client) Wake(ctx context.Context, ref ConnRef) error {
	_, err := get[*managepb.Ok](ctx, c, &managepb.WakeConn{Conn: refPB(ref)})
	return err
}

// SetTracing turns the endpoint's tracing of a connection on (its last
// events then show in Inspect) or off (which also ends every Trace
// stream of it). An action verb.
func (c *Client) SetTracing(ctx context.Context, ref ConnRef, on bool) error {
	_, err := get[*managepb.Ok](ctx, c, &managepb.TraceConn{Conn: refPB(ref), On: on})
	return err
}

// SleepServer stops the server's acceptors accepting (server.Sleep).
// An action verb.
func (c *Client) SleepServer(ctx context.Context, server string) error {
	_, err := get[*managepb.Ok](ctx, c, &managepb.SleepServer{Server: server})
	return err
}

// WakeServer starts them again (server.Wake). An action verb.
func (c *Client) WakeServer(ctx context.Context, server string) error {
	_, err := get[*managepb.Ok](ctx, c, &managepb.WakeServer{Server: server})
	return err
}

// SetMaxConnections changes the server's connection limit (0: none).
// An action verb.
func (c *Client) SetMaxConnections(ctx context.Context, server string, n int) error {
	_, err := get[*managepb.Ok](ctx, c, &managepb.SetMaxConnections{Server: server, Max: int64(n)})
	return err
}

// StopServer stops the server (server.Stop): every connection's
// Terminate sees an error whose text is reason (actors.ErrShutdown when
// reason is empty). An action verb.
func (c *Client) StopServer(ctx context.Context, server string, reason string) error {
	_, err := get[*managepb.Ok](ctx, c, &managepb.StopServer{Server: server, Reason: reason})
	return err
}

// ErrEnded is the error a stream's Next returns once the stream has
// ended; the text says why.
var ErrEnded = errors.New("etcp/manage: stream ended")

// Drain drains the server (server.Shutdown): it stops accepting, lets the
// connections end for grace, then stops what is left. progress, if not
// nil, is called with each report (every 100 ms) and the last; Drain
// returns the last once the server has stopped, or ctx's error if ctx ends
// first (the drain goes on). An action verb.
func (c *Client) Drain(ctx context.Context, server string, grace time.Duration, progress func(DrainProgress)) (DrainProgress, error) {
	s := newStream(c.node.System(), 64, func(m any) bool {
		p, ok := m.(*managepb.DrainProgress)
		return ok && p.Done
	})
	defer s.close()
	req := &managepb.DrainServer{Server: server, GraceMs: uint32(grace.Milliseconds()),
		SubscriberAddress: s.pid.Address, SubscriberId: s.pid.Id}
	if _, err := get[*managepb.Ok](ctx, c, req); err != nil {
		return DrainProgress{}, err
	}
	for {
		select {
		case <-ctx.Done():
			return DrainProgress{}, fmt.Errorf("etcp/manage: drain %s: %w", server, ctx.Err())
		case m := <-s.ch:
			pm, ok := m.(*managepb.DrainProgress)
			if !ok {
				continue
			}
			p := DrainProgress{Server: pm.Server, Active: int(pm.Active), Elapsed: time.Duration(pm.ElapsedMs) * time.Millisecond,
				Done: pm.Done, Forced: pm.Forced, Err: pm.Error}
			if progress != nil {
				progress(p)
			}
			if p.Done {
				if p.Err != "" {
					return p, fmt.Errorf("%w: drain %s: %s", ErrFailed, server, p.Err)
				}
				return p, nil
			}
		}
	}
}

// Trace is a stream of one connection's trace events.
type Trace struct {
	c   *Client
	ref ConnRef
	s   *stream
}

// Trace turns the endpoint's tracing of a connection on and streams its
// events, until max events (0: no limit), the connection's end, or Close.
// An action verb.
func (c *Client) Trace(ctx context.Context, ref ConnRef, max int) (*Trace, error) {
	if max < 0 {
		return nil, fmt.Errorf("%w: max %d", ErrInvalid, max)
	}
	s := newStream(c.node.System(), 1024, func(m any) bool { _, ok := m.(*managepb.End); return ok })
	req := &managepb.TraceConn{Conn: refPB(ref), On: true, SubscriberAddress: s.pid.Address,
		SubscriberId: s.pid.Id, MaxEvents: uint32(max)}
	if _, err := get[*managepb.Ok](ctx, c, req); err != nil {
		s.close()
		return nil, err
	}
	return &Trace{c: c, ref: ref, s: s}, nil
}

// Next returns the next event, waiting until one arrives, the stream
// ends (an error matching ErrEnded, saying why) or ctx ends.
func (t *Trace) Next(ctx context.Context) (TraceEvent, error) {
	t.s.mu.Lock()
	closed := t.s.closed
	t.s.mu.Unlock()
	if closed {
		return TraceEvent{}, fmt.Errorf("%w: closed", ErrEnded)
	}
	for {
		select {
		case <-ctx.Done():
			return TraceEvent{}, ctx.Err()
		case m, ok := <-t.s.ch:
			if !ok {
				return TraceEvent{}, fmt.Errorf("%w: closed", ErrEnded)
			}
			switch v := m.(type) {
			case *managepb.TraceEvent:
				return fromTrace(v), nil
			case *managepb.End:
				t.s.close()
				return TraceEvent{}, fmt.Errorf("%w: %s", ErrEnded, v.Reason)
			}
		}
	}
}

// Dropped is how many events this side dropped because they came faster
// than Next took them (1024 wait at most).
func (t *Trace) Dropped() uint64 { return t.s.dropped.Load() }

// Close ends the stream; the endpoint stops tracing the connection if
// nothing else wants it.
func (t *Trace) Close(ctx context.Context) error {
	t.s.mu.Lock()
	closed := t.s.closed
	t.s.mu.Unlock()
	defer t.s.close()
	if closed {
		return nil
	}
	_, err := get[*managepb.Ok](ctx, t.c, &managepb.TraceConn{Conn: refPB(t.ref), On: false,
		SubscriberAddress: t.s.pid.Address, SubscriberId: t.s.pid.Id})
	if errors.Is(err, ErrNotFound) {
		return nil // the connection ended
	}
	return err
}
