package manage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// Connections: listing, finding one, inspecting it, and the actions on
// it.

func queryOf(m *managepb.ListConns) Query {
	f := m.GetFilter()
	return Query{Owner: f.GetOwner(), PeerPrefix: f.GetPeerPrefix(), State: f.GetState(), MinBytes: f.GetMinBytes(),
		Kind: Kind(f.GetKind()), Sort: SortKey(m.Sort), Limit: int(m.Limit)}
}

// collect offers every connection of this node to sel: those of the
// managed servers and pools, then the client connections found in the
// registry.
func (e *Endpoint) collect(sel *selector) {
	managed := map[string]bool{}
	for _, s := range e.serverList() {
		managed[s.Name()] = true
		if !sel.wants(s.Name(), KindServer) {
			continue
		}
		// The registry's fields a lean walk leaves out are read
		// afterwards for the connections kept (see refresh), unless a
		// filter by peer needs them for all.
		s.EachConnStats(sel.full(), func(st *actors.ConnStats) bool {
			sel.offer(st, KindServer)
			return true
		})
	}
	for _, p := range e.poolList() {
		managed[p.Name()] = true
		if !sel.wants(p.Name(), KindPool) {
			continue
		}
		for _, c := range p.Connections() {
			if c.PID == nil {
				continue
			}
			if st, ok := actors.ConnStatsOf(e.sys, c.PID); ok {
				sel.offer(&st, KindPool)
			}
		}
	}
	if !sel.wants("", KindClient) || (sel.f.owner != "" && managed[sel.f.owner]) {
		return
	}
	e.eachClient(sel.f.owner, managed, func(st *actors.ConnStats) { sel.offer(st, KindClient) })
}

// eachClient calls fn for every live connection of this node registered
// under its PID's id whose owner is not managed (of owner, if set). A
// registry that lists its owners (registry.Local and Cluster do) is asked
// for the entries of each owner not managed, at the cost of those; any
// other is walked whole.
func (e *Endpoint) eachClient(owner string, managed map[string]bool, fn func(*actors.ConnStats)) {
	var entries []registry.Entry
	if lo, ok := e.reg.(interface{ Owners() []string }); ok && owner == "" {
		for _, o := range lo.Owners() {
			if managed[o] {
				continue
			}
			es, err := e.reg.Select(registry.ByOwner(o))
			if err == nil {
				entries = append(entries, es...)
			}
		}
	} else {
		var err error
		if entries, err = e.reg.Select(registry.Query{Owner: owner}); err != nil {
			return // a registry that keeps nothing: no client is found
		}
	}
	self := e.node.Address()
	for i := range entries {
		en := &entries[i]
		if en.PID == nil || en.Name != host.SelfName(e.reg, en.PID) || managed[en.Owner] || (en.Node != "" && en.Node != self) {
			continue
		}
		if st, ok := actors.ConnStatsOf(e.sys, en.PID); ok {
			fn(&st)
		}
	}
}

// refresh reads in full the connections a lean walk kept (their
// registry fields and mailbox); one that ended meanwhile keeps what was
// read.
func (e *Endpoint) refresh(sel *selector) {
	if sel.full() {
		return
	}
	for i := range sel.heap {
		it := &sel.heap[i]
		if it.kind == KindServer {
			if st, ok := actors.ConnStatsOf(e.sys, it.st.PID); ok {
				st.BytesIn, st.BytesOut, st.FramesIn, st.FramesOut = it.st.BytesIn, it.st.BytesOut, it.st.FramesIn, it.st.FramesOut
				it.st = st
			}
		}
	}
}

// connPB is one connection of node on the wire.
func connPB(node string, st *actors.ConnStats, kind Kind) *managepb.Conn {
	c := &managepb.Conn{Node: node, Owner: st.Owner, Kind: managepb.OwnerKind(kind), Id: st.ID,
		Local: addrString(st.Local), Peer: addrString(st.Peer), Transport: st.Transport, State: st.State,
		Passive: st.Passive, StartedUnixNano: unixOf(st.Started), LastFrameUnixNano: unixOf(st.LastFrame),
		BytesIn: st.BytesIn, BytesOut: st.BytesOut, FramesIn: st.FramesIn, FramesOut: st.FramesOut,
		Mailbox: int64(st.Mailbox)}
	if st.PID != nil {
		c.Pid = st.PID.Id
	}
	return c
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func unixOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (e *Endpoint) listConns(ctx context.Context, m *managepb.ListConns) (*managepb.ConnList, error) {
	q := queryOf(m)
	sel, err := newSelector(q)
	if err != nil {
		return nil, err
	}
	e.collect(sel)
	e.refresh(sel)
	out := &managepb.ConnList{Total: uint64(sel.total), Matched: uint64(sel.matched)}
	for _, it := range sel.result() {
		out.Conns = append(out.Conns, connPB(e.node.Address(), &it.st, it.kind))
	}
	if !m.Cluster {
		return out, nil
	}
	local := proto.Clone(m).(*managepb.ListConns)
	local.Cluster = false
	all := out.Conns
	for _, r := range e.fanOut(ctx, local) {
		if r.err != nil {
			out.Errors = append(out.Errors, r.nodeError())
			continue
		}
		l := r.reply.(*managepb.ConnList)
		out.Total += l.Total
		out.Matched += l.Matched
		all = append(all, l.Conns...)
	}
	out.Conns = mergeTop(all, sel)
	return out, nil
}

// mergeTop orders the top lists of several nodes as sel would and keeps
// its limit.
func mergeTop(conns []*managepb.Conn, sel *selector) []*managepb.Conn {
	m := &selector{f: filter{}, before: sel.before, limit: sel.limit}
	for i, c := range conns {
		st := actors.ConnStats{ID: c.Id, Owner: c.Owner + "\x00" + c.Node, BytesIn: c.BytesIn, BytesOut: c.BytesOut,
			Mailbox: int(c.Mailbox), Started: unixNano(c.StartedUnixNano), LastFrame: unixNano(c.LastFrameUnixNano),
			FramesIn: uint64(i)} // FramesIn carries the index back
		m.offer(&st, Kind(c.Kind))
	}
	out := make([]*managepb.Conn, 0, len(m.heap))
	for _, it := range m.result() {
		out = append(out, conns[it.st.FramesIn])
	}
	return out
}

// resolve finds the connection a reference names on this node.
func (e *Endpoint) resolve(r *managepb.ConnRef) (*actor.PID, actors.ConnStats, Kind, error) {
	var pid *actor.PID
	switch {
	case r == nil:
		return nil, actors.ConnStats{}, 0, fmt.Errorf("%w: no connection named", ErrInvalid)
	case r.Pid != "":
		pid = e.pidOf(e.sys.Address(), r.Pid)
	case r.Name != "":
		en, err := e.reg.Lookup(r.Name)
		if errors.Is(err, registry.ErrNotFound) { // it says "not found" and the name
			return nil, actors.ConnStats{}, 0, fmt.Errorf("%w: no connection named %q", ErrNotFound, r.Name)
		}
		if err != nil {
			return nil, actors.ConnStats{}, 0, fmt.Errorf("%w: no connection named %q: %v", ErrNotFound, r.Name, err)
		}
		if en.Node != "" && en.Node != e.node.Address() {
			return nil, actors.ConnStats{}, 0, fmt.Errorf("%w: %q is a connection of node %s", ErrNotFound, r.Name, en.Node)
		}
		pid = en.PID
	case r.Owner != "":
		pid = e.findByID(r.Owner, r.Id)
	default:
		return nil, actors.ConnStats{}, 0, fmt.Errorf("%w: an empty connection reference", ErrInvalid)
	}
	if pid == nil {
		return nil, actors.ConnStats{}, 0, fmt.Errorf("%w: no connection %s", ErrNotFound, refString(r))
	}
	st, ok := actors.ConnStatsOf(e.sys, pid)
	if !ok {
		return nil, actors.ConnStats{}, 0, fmt.Errorf("%w: no connection %s", ErrNotFound, refString(r))
	}
	return pid, st, e.kindOf(st.Owner), nil
}

func refString(r *managepb.ConnRef) string {
	return ConnRef{PID: r.GetPid(), Owner: r.GetOwner(), ID: r.GetId(), Name: r.GetName()}.String()
}

// findByID finds connection id of owner.
func (e *Endpoint) findByID(owner string, id uint64) *actor.PID {
	for _, s := range e.serverList() {
		if s.Name() == owner {
			var pid *actor.PID
			s.EachConnStats(false, func(st *actors.ConnStats) bool {
				if st.ID == id {
					pid = st.PID
				}
				return pid == nil
			})
			return pid
		}
	}
	for _, p := range e.poolList() {
		if p.Name() == owner {
			for _, c := range p.Connections() {
				if uint64(c.ID) == id {
					return c.PID
				}
			}
			return nil
		}
	}
	var pid *actor.PID
	e.eachClient(owner, nil, func(st *actors.ConnStats) {
		if st.ID == id {
			pid = st.PID
		}
	})
	return pid
}

func (e *Endpoint) kindOf(owner string) Kind {
	for _, s := range e.serverList() {
		if s.Name() == owner {
			return KindServer
		}
	}
	for _, p := range e.poolList() {
		if p.Name() == owner {
			return KindPool
		}
	}
	return KindClient
}

func (e *Endpoint) inspect(ctx context.Context, m *managepb.Inspect) (*managepb.ConnDetail, error) {
	pid, st, kind, err := e.resolve(m.Conn)
	if err != nil {
		return nil, err
	}
	out := &managepb.ConnDetail{Conn: connPB(e.node.Address(), &st, kind)}
	if v, err := client.State(ctx, e.sys.Root, pid); err != nil {
		out.StateError = err.Error()
	} else {
		out.State, out.StateType = fmt.Sprintf("%+v", v), fmt.Sprintf("%T", v)
	}
	if t := e.traceOf(pid.Id); t != nil {
		out.Tracing = true
		for _, ev := range t.log.Events() {
			out.Trace = append(out.Trace, tracePB(&ev))
		}
	}
	return out, nil
}

// payload is what a call or cast carries, as the handler receives it.
func payload(p *managepb.Payload) any {
	switch v := p.GetValue().(type) {
	case *managepb.Payload_Text:
		return v.Text
	case *managepb.Payload_Data:
		if v.Data == nil {
			return []byte{}
		}
		return v.Data
	}
	return nil
}

// connErr is an action's error on a connection: ErrClosed when it ended.
func connErr(err error) error {
	if errors.Is(err, ErrClosed) {
		return err // it is ErrClosed (actors.ErrClosed) already
	}
	return fmt.Errorf("%w: %v", ErrFailed, err)
}

func (e *Endpoint) callConn(m *managepb.CallConn) (*managepb.CallReply, error) {
	pid, _, _, err := e.resolve(m.Conn)
	if err != nil {
		return nil, err
	}
	timeout := actors.DefaultRequestTimeout
	if m.TimeoutMs > 0 {
		timeout = time.Duration(m.TimeoutMs) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	v, err := client.Call(ctx, e.sys.Root, pid, payload(m.Payload))
	switch {
	case err == nil:
	case errors.Is(err, actors.ErrClosed), ctx.Err() != nil:
		return nil, connErr(err)
	default: // the handler replied with an error
		return &managepb.CallReply{Error: err.Error(), Type: fmt.Sprintf("%T", err)}, nil
	}
	r := &managepb.CallReply{Type: fmt.Sprintf("%T", v)}
	switch x := v.(type) {
	case string:
		r.Value = &managepb.CallReply_Text{Text: x}
	case []byte:
		r.Value = &managepb.CallReply_Data{Data: x}
	default:
		r.Value = &managepb.CallReply_Formatted{Formatted: fmt.Sprintf("%+v", x)}
	}
	return r, nil
}

func (e *Endpoint) castConn(m *managepb.CastConn) (*managepb.Ok, error) {
	pid, _, _, err := e.resolve(m.Conn)
	if err != nil {
		return nil, err
	}
	if err := client.Cast(e.sys.Root, pid, payload(m.Payload)); err != nil {
		return nil, connErr(err)
	}
	return &managepb.Ok{}, nil
}

func (e *Endpoint) stopConn(ctx context.Context, m *managepb.StopConn) (*managepb.Ok, error) {
	pid, _, _, err := e.resolve(m.Conn)
	if err != nil {
		return nil, err
	}
	var reason error
	if m.Reason != "" {
		reason = errors.New(m.Reason)
	}
	if err := client.Stop(ctx, e.sys.Root, pid, reason); err != nil {
		return nil, connErr(err)
	}
	return &managepb.Ok{}, nil
}

func (e *Endpoint) hibernateConn(ctx context.Context, m *managepb.HibernateConn) (*managepb.Ok, error) {
	pid, _, _, err := e.resolve(m.Conn)
	if err != nil {
		return nil, err
	}
	if _, err := actors.Request(ctx, e.sys.Root, pid, &actors.Hibernate{}); err != nil {
		return nil, connErr(err)
	}
	return &managepb.Ok{}, nil
}

// wakeConn wakes a hibernated connection: any message does; Info is the
// one with no other effect.
func (e *Endpoint) wakeConn(ctx context.Context, m *managepb.WakeConn) (*managepb.Ok, error) {
	pid, _, _, err := e.resolve(m.Conn)
	if err != nil {
		return nil, err
	}
	if _, err := actors.Request(ctx, e.sys.Root, pid, &actors.Info{}); err != nil {
		return nil, connErr(err)
	}
	return &managepb.Ok{}, nil
}
