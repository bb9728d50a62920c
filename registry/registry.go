package registry

import (
	"net/netip"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// A Registry keeps PIDs under unique names, with metadata, and tells
// subscribers when names come and go. [Local], [None] and [Cluster]
// implement it, and so can a user's own type (etcp's {via, M, T}):
// whatever takes a Registry takes any implementation.
//
// Implementations must be safe for concurrent use.
type Registry interface {
	// Register keeps pid under name. A name held by another PID fails
	// with an error matching [ErrNameTaken]; registering a name its PID
	// already holds replaces the metadata. An empty name or a nil PID
	// fails with [ErrInvalid].
	Register(name string, pid *actor.PID, meta Meta) error
	// Unregister removes name, which pid must hold: a name held by
	// another PID fails with [ErrNotOwner], an unknown one with
	// [ErrNotFound].
	Unregister(name string, pid *actor.PID) error
	// Lookup returns the entry registered under name, or [ErrNotFound].
	// A registry that keeps nothing returns [ErrNoRegistry].
	Lookup(name string) (Entry, error)
	// Select returns the entries that match q, in no particular order.
	// A registry that keeps nothing returns [ErrNoRegistry].
	Select(q Query) ([]Entry, error)
	// Subscribe calls fn once for every name registered or unregistered
	// from now on, until cancel is called. A registry that keeps nothing
	// returns [ErrNoRegistry].
	Subscribe(fn func(Event)) (cancel func(), err error)
}

// Meta is what a registration says about its PID. All fields are
// optional. A connection's entry fills the first six.
type Meta struct {
	Owner     string         // the server, pool or client that owns the PID
	ConnID    uint64         // the connection's id within its owner
	Peer      netip.AddrPort // the connection's peer address
	Local     netip.AddrPort // the connection's local address
	Transport string         // the transport's name ("tcp", "tls"...)
	Started   time.Time      // when the connection started (kept to the nanosecond, without location or monotonic reading)
	// Tags are free key/value pairs for Select. [Local] and [Cluster]
	// keep a copy and hand out copies: changing the slice given to
	// Register, or one that Lookup, Select or an event returned, changes
	// nothing else.
	Tags []Tag
}

// A Tag is one key/value pair of [Meta.Tags].
type Tag struct{ Key, Value string }

// Tag returns the value of the first tag named key, and whether there
// is one.
func (m *Meta) Tag(key string) (string, bool) {
	for _, t := range m.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// An Entry is one registration, as Lookup, Select and events report it.
type Entry struct {
	Name string
	PID  *actor.PID
	Meta
	// Node is the address of the node that holds the PID, in a
	// [Cluster]; empty in a [Local] registry.
	Node string
	// Registered is when the holding node registered the name, in a
	// [Cluster] (the conflict rule compares it); zero in a [Local]
	// registry.
	Registered time.Time
}

// A Query selects entries: every field that is set must match.
type Query struct {
	Owner string // entries of this owner
	// Peer: entries whose peer is this address; a zero port matches
	// every port of the address.
	Peer netip.AddrPort
	Tags []Tag  // entries that have each of these tags, with the same value
	Node string // in a [Cluster], entries held by the node at this address
}

// ByOwner selects the entries of one owner (a server's connections).
func ByOwner(owner string) Query { return Query{Owner: owner} }

// ByPeer selects the entries whose peer is ap, or any port of ap's
// address when ap's port is 0.
func ByPeer(ap netip.AddrPort) Query { return Query{Peer: ap} }

// ByTag selects the entries tagged key=value.
func ByTag(key, value string) Query { return Query{Tags: []Tag{{key, value}}} }

// EventKind says what happened to a name.
type EventKind uint8

// Event kinds.
const (
	// Registered: the name was registered, or its metadata replaced.
	Registered EventKind = iota + 1
	// Unregistered: the name went away; Event.Reason says why.
	Unregistered
)

func (k EventKind) String() string {
	switch k {
	case Registered:
		return "registered"
	case Unregistered:
		return "unregistered"
	}
	return "unknown"
}

// Reason says why a name went away.
type Reason uint8

// Reasons.
const (
	// ReasonNone: an ordinary Register or Unregister.
	ReasonNone Reason = iota
	// ReasonConflict: a [Cluster] name registered on two nodes at once,
	// and this registration lost (see the package doc's conflict rule).
	ReasonConflict
	// ReasonNodeDown: the node holding the name left or was lost.
	ReasonNodeDown
)

func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonConflict:
		return "conflict"
	case ReasonNodeDown:
		return "node-down"
	}
	return "unknown"
}

// An Event tells a subscriber that a name was registered or went away.
type Event struct {
	Kind   EventKind
	Entry  Entry
	Reason Reason
}
