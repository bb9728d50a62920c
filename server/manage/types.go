package manage

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// Server describes one managed server: its server.Info, with the node
// that runs it.
type Server struct {
	Node           string // the node's address
	Name           string
	Addr           string
	Mode           string // accepting, sleeping, closed
	Uniform        bool   // every acceptor runs in that mode
	MaxConnections int    // 0: no limit
	Active         int
	Acceptors      int
	// Accepted and Terminated count connections since the start;
	// Rejected those closed at once over the limit.
	Accepted, Terminated, Rejected                   int64
	AcceptorRestarts, ConnsRestarts, ListenerReopens int64
	// Conns counts the connections that are up, by what they hold.
	Conns actors.Stats
	// Err says why the server stopped, once it has.
	Err string
}

// Acceptor describes one acceptor of a server.
type Acceptor struct {
	ID       int
	PID      string // its actor's id; empty while it restarts
	Mode     string
	Restarts int64
}

// Pool describes one managed pool.
type Pool struct {
	Node        string
	Name        string
	Live        int
	Conns       actors.Stats
	Connections []PoolConn // the first MaxLimit
	Err         string     // why the pool stopped, once it has
}

// PoolConn is one connection of a pool, as pool.ConnInfo.
type PoolConn struct {
	ID       uint64
	Addr     string
	State    string // connecting, up, waiting
	Restarts int
	LastExit string
	PID      string // empty while it is dialled or waits to restart
}

// Kind is what owns a connection.
type Kind uint8

// Kinds of owner.
const (
	KindAny    Kind = iota // any owner (in a [Query])
	KindServer             // a managed server
	KindPool               // a managed pool
	KindClient             // anything else: client connections found in the registry
)

var kindNames = [...]string{"any", "server", "pool", "client"}

// String names the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText names the kind (in JSON, say).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind by its name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// ParseKind reads a kind by its name.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("%w: kind %q: want any, server, pool or client", ErrInvalid, s)
}

// Conn describes one connection: its actors.ConnStats, with its node.
type Conn struct {
	Node      string
	PID       string // the PID's id on its node
	Owner     string
	Kind      Kind
	ID        uint64
	Local     string
	Peer      string
	Transport string
	State     string // up, hibernated, passivated, closing
	Passive   bool
	// Started is when Init accepted it; LastFrame when its last complete
	// frame arrived.
	Started, LastFrame                     time.Time
	BytesIn, BytesOut, FramesIn, FramesOut uint64
	Mailbox                                int
}

// Age is how long the connection has been up.
func (c Conn) Age() time.Duration { return time.Since(c.Started) }

// Idle is how long since its last complete frame.
func (c Conn) Idle() time.Duration { return time.Since(c.LastFrame) }

// Mode is "passive" or "active".
func (c Conn) Mode() string {
	if c.Passive {
		return "passive"
	}
	return "active"
}

// Ref names the connection by its PID.
func (c Conn) Ref() ConnRef { return ConnRef{PID: c.PID} }

// Handle is the short name tables show: owner/id.
func (c Conn) Handle() string { return c.Owner + "/" + strconv.FormatUint(c.ID, 10) }

// ConnRef names one connection of the endpoint's node: by its PID's id,
// by its owner and id, or by a name it is registered under. The first of
// PID, Name and Owner that is set is used.
type ConnRef struct {
	PID   string
	Owner string
	ID    uint64
	Name  string
}

// ParseConnRef reads the forms the etcpctl command takes: "OWNER/ID"
// (an owner and a number, as tables show), "name:NAME" (a registered
// name), or a PID's id ("etcp/echo/conns-3/c42").
func ParseConnRef(s string) (ConnRef, error) {
	if s == "" {
		return ConnRef{}, fmt.Errorf("%w: empty connection reference", ErrInvalid)
	}
	if n, ok := strings.CutPrefix(s, "name:"); ok {
		return ConnRef{Name: n}, nil
	}
	if i := strings.LastIndexByte(s, '/'); i > 0 {
		if id, err := strconv.ParseUint(s[i+1:], 10, 64); err == nil {
			return ConnRef{Owner: s[:i], ID: id}, nil
		}
	}
	return ConnRef{PID: s}, nil
}

// String is the reference in the form ParseConnRef reads.
func (r ConnRef) String() string {
	switch {
	case r.PID != "":
		return r.PID
	case r.Name != "":
		return "name:" + r.Name
	}
	return r.Owner + "/" + strconv.FormatUint(r.ID, 10)
}

// SortKey orders a connection listing.
type SortKey uint8

// Sort keys.
const (
	SortBytes    SortKey = iota // bytes in + out, most first (the default)
	SortBytesIn                 // most first
	SortBytesOut                // most first
	SortAge                     // oldest first
	SortMailbox                 // longest mailbox first
	SortIdle                    // longest without a frame first
	SortID                      // owner, then id, ascending
)

var sortNames = [...]string{"bytes", "bytes-in", "bytes-out", "age", "mailbox", "idle", "id"}

// String names the key.
func (k SortKey) String() string {
	if int(k) < len(sortNames) {
		return sortNames[k]
	}
	return "SortKey(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText names the key.
func (k SortKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a key by its name.
func (k *SortKey) UnmarshalText(b []byte) error {
	v, err := ParseSortKey(string(b))
	*k = v
	return err
}

// ParseSortKey reads a key by its name.
func ParseSortKey(s string) (SortKey, error) {
	for i, n := range sortNames {
		if n == s {
			return SortKey(i), nil
		}
	}
	return 0, fmt.Errorf("%w: sort %q: want one of %s", ErrInvalid, s, strings.Join(sortNames[:], ", "))
}

// Query selects and orders connections; every field that is set must
// match. Only the top Limit travel, so a node with 100,000 connections
// answers with a small message.
type Query struct {
	Owner      string // owner name
	PeerPrefix string // a prefix of the peer address ("10.0.0.", "127.0.0.1:5") or a CIDR prefix ("10.0.0.0/8")
	State      string // up, hibernated, passivated, closing
	MinBytes   uint64 // bytes in + out at least
	Kind       Kind
	Sort       SortKey
	Limit      int // the top N: 0 means DefaultLimit; at most MaxLimit
}

// Limits of a connection listing.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// ConnList is the answer to a connection query.
type ConnList struct {
	Total   int    // connections looked at
	Matched int    // of those, how many matched
	Conns   []Conn // the top Limit that matched, sorted
}

// Detail is one connection inspected.
type Detail struct {
	Conn Conn
	// State is the handler's state (client.State) as fmt %+v renders
	// it, StateType its Go type; StateError says why it could not be
	// read.
	State, StateType, StateError string
	// Tracing is true while the endpoint traces the connection; Trace
	// holds its last events, oldest first.
	Tracing bool
	Trace   []TraceEvent
}

// TraceEvent is one traced event of a connection (actors.TraceEvent, as
// text).
type TraceEvent struct {
	Time     time.Time
	Conn     uint64
	Kind     string // packet-in, packet-out, message-in, reply-out, result
	Callback string
	Data     []byte // the packet, at most 256 bytes of it
	DataLen  int    // the packet's full length
	Message  string // the message, reply or result, fmt %+v
}

// String is the event on one line.
func (e TraceEvent) String() string {
	var b strings.Builder
	b.WriteString(e.Time.Format("15:04:05.000000"))
	b.WriteString(" ")
	b.WriteString(e.Kind)
	if e.Callback != "" {
		b.WriteString(" " + e.Callback)
	}
	if e.DataLen > 0 || e.Data != nil {
		fmt.Fprintf(&b, " %d bytes %q", e.DataLen, e.Data)
	}
	if e.Message != "" {
		b.WriteString(" " + e.Message)
	}
	return b.String()
}

// Reply is a handler's reply to a call made through the endpoint.
type Reply struct {
	// Value is a string or []byte the handler replied with, as such, or
	// anything else as fmt %+v renders it.
	Value any
	// Type is the reply's Go type (fmt %T).
	Type string
}

// DrainProgress reports a drain under way.
type DrainProgress struct {
	Server  string
	Active  int // connections not yet ended
	Elapsed time.Duration
	Done    bool   // the server has stopped
	Forced  bool   // the grace passed and the rest were stopped
	Err     string // set if the server's stop failed
}

// NodeError is a node of a cluster-wide query that did not answer.
type NodeError struct {
	Node string
	Err  string
}

// ---- conversions ----

func counts(s actors.Stats) *managepb.ConnCounts {
	return &managepb.ConnCounts{Up: int64(s.Up), Reading: int64(s.Reading), Parked: int64(s.Parked),
		Hibernated: int64(s.Hibernated), Passivated: int64(s.Passivated), Busy: int64(s.Busy)}
}

func fromCounts(c *managepb.ConnCounts) actors.Stats {
	return actors.Stats{Up: int(c.GetUp()), Reading: int(c.GetReading()), Parked: int(c.GetParked()),
		Hibernated: int(c.GetHibernated()), Passivated: int(c.GetPassivated()), Busy: int(c.GetBusy())}
}

func fromServer(s *managepb.Server) Server {
	return Server{Node: s.Node, Name: s.Name, Addr: s.Addr, Mode: s.Mode, Uniform: s.Uniform,
		MaxConnections: int(s.MaxConnections), Active: int(s.Active), Acceptors: int(s.Acceptors),
		Accepted: s.Accepted, Terminated: s.Terminated, Rejected: s.Rejected,
		AcceptorRestarts: s.AcceptorRestarts, ConnsRestarts: s.ConnsRestarts, ListenerReopens: s.ListenerReopens,
		Conns: fromCounts(s.Conns), Err: s.Err}
}

func fromPool(p *managepb.Pool) Pool {
	out := Pool{Node: p.Node, Name: p.Name, Live: int(p.Live), Conns: fromCounts(p.Conns), Err: p.Err}
	for _, c := range p.Connections {
		out.Connections = append(out.Connections, PoolConn{ID: c.Id, Addr: c.Addr, State: c.State,
			Restarts: int(c.Restarts), LastExit: c.LastExit, PID: c.Pid})
	}
	return out
}

func fromConn(c *managepb.Conn) Conn {
	return Conn{Node: c.Node, PID: c.Pid, Owner: c.Owner, Kind: Kind(c.Kind), ID: c.Id, Local: c.Local,
		Peer: c.Peer, Transport: c.Transport, State: c.State, Passive: c.Passive,
		Started: unixNano(c.StartedUnixNano), LastFrame: unixNano(c.LastFrameUnixNano),
		BytesIn: c.BytesIn, BytesOut: c.BytesOut, FramesIn: c.FramesIn, FramesOut: c.FramesOut,
		Mailbox: int(c.Mailbox)}
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func fromTrace(e *managepb.TraceEvent) TraceEvent {
	return TraceEvent{Time: unixNano(e.TimeUnixNano), Conn: e.Conn, Kind: e.Kind, Callback: e.Callback,
		Data: e.Data, DataLen: int(e.DataLen), Message: e.Message}
}

func fromNodeErrors(es []*managepb.NodeError) []NodeError {
	var out []NodeError
	for _, e := range es {
		out = append(out, NodeError{Node: e.Node, Err: e.Error})
	}
	return out
}

func refPB(r ConnRef) *managepb.ConnRef {
	return &managepb.ConnRef{Pid: r.PID, Owner: r.Owner, Id: r.ID, Name: r.Name}
}
