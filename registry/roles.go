package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// A Role is what another node may do to this one. A node's roles are a
// set ([RoleRead] | [RoleSend], ...), decided by this node's [Roles]
// for the node's proven identity, and checked where the power is: by
// every connection actor for what reaches it from another node, by the
// management endpoint for its verbs, and by the node itself for
// protoactor's own stop and watch messages.
type Role uint8

const (
	// RoleRead: list, inspect, look up and watch (the management
	// endpoint's read verbs, protoactor's Watch).
	RoleRead Role = 1 << iota
	// RoleSend: send to connections: Send, Cast, Event, Call and any
	// other message a handler receives (HandleInfo).
	RoleSend
	// RoleControl: stop connections (a Stop, protoactor's Stop or
	// PoisonPill), hibernate, wake, trace and change their code, and
	// drive servers (sleep, wake, drain, stop, limits).
	RoleControl

	// RoleNone: nothing at all; messages from the node are refused.
	RoleNone Role = 0
	// RoleAll is every role.
	RoleAll = RoleRead | RoleSend | RoleControl
)

var roleNames = [...]string{"read", "send", "control"}

// String names the roles, "read+send" or "none".
func (r Role) String() string {
	if r == RoleNone {
		return "none"
	}
	var b strings.Builder
	for i, n := range roleNames {
		if r&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('+')
			}
			b.WriteString(n)
		}
	}
	if rest := r &^ RoleAll; rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('+')
		}
		b.WriteString("0x" + strconv.FormatUint(uint64(rest), 16))
	}
	return b.String()
}

// Has reports whether r includes every role of need.
func (r Role) Has(need Role) bool { return r&need == need }

// ParseRole reads roles written as [Role.String] writes them ("read",
// "read+send", "all", "none").
func ParseRole(s string) (Role, error) {
	switch s {
	case "all":
		return RoleAll, nil
	case "none", "":
		return RoleNone, nil
	}
	var r Role
	for _, part := range strings.Split(s, "+") {
		i := -1
		for j, n := range roleNames {
			if n == part {
				i = j
			}
		}
		if i < 0 {
			return 0, fmt.Errorf("%w: role %q (want read, send, control, all or none, joined with +)", ErrInvalid, part)
		}
		r |= 1 << i
	}
	return r, nil
}

// Roles says what each other node may do to this one.
//
// A node is known by its identity: the address it connects as
// (host:port, the address in its PIDs) and, with mutual TLS, the names
// its certificate carries (its DNS and URI SANs and its subject's common
// name). Nodes maps any of these to roles; the first match in that order
// wins. A proven node that matches none has Default. The zero Roles
// gives every proven node every role, as an Erlang cluster trusts every
// node that knows its cookie: set Default to restrict.
type Roles struct {
	// Default is the roles of a proven node that Nodes does not name.
	Default Role
	// Nodes are the roles of particular nodes, by address or
	// certificate name.
	Nodes map[string]Role
	set   bool // Default was given (WithRoles)
}

// of returns the roles of a node known by address and names.
func (r *Roles) of(address string, names []string) Role {
	if role, ok := r.Nodes[address]; ok {
		return role
	}
	for _, n := range names {
		if role, ok := r.Nodes[n]; ok {
			return role
		}
	}
	if !r.set {
		return RoleAll
	}
	return r.Default
}

// ErrForbidden: the sending node lacks the role the request needs. A
// refused request is not carried out, and the node that sent it is
// told.
var ErrForbidden = errors.New("etcp: forbidden")

// ErrUnauthenticated: another node could not prove who it is (no
// certificate this node trusts, a certificate that does not name the
// node it claims to be, or the wrong cookie).
var ErrUnauthenticated = errors.New("etcp: unauthenticated")

// A Peer is the node a message came from, as proven to this node.
type Peer struct {
	// Address is the node's address (host:port).
	Address string
	// Roles is what the node may do here.
	Roles Role
}

// The headers a node stamps on every message it receives from another
// node, replacing any the sender put there.
const (
	peerHeader  = "etcp-peer"
	rolesHeader = "etcp-roles"
)

// PeerOf reports which node the message ctx is handling came from and
// what it may do here, if it came from another node through a node
// started by [StartNode]. ok is false for a message sent on this node
// (which may do anything), and for every message on a node made by
// [AttachNode], which proves nothing (see [Guarded]).
//
// An actor of the user's own checks the sender of a request with it:
//
//	if p, remote := registry.PeerOf(ctx); remote && !p.Roles.Has(registry.RoleControl) {
//		ctx.Respond(registry.ErrForbidden)
//		return
//	}
func PeerOf(ctx actor.ReceiverContext) (p Peer, ok bool) {
	h := ctx.MessageHeader()
	if h == nil { // not an envelope
		return Peer{}, false
	}
	if addr := h.Get(peerHeader); addr != "" {
		r, _ := strconv.ParseUint(h.Get(rolesHeader), 10, 8)
		return Peer{Address: addr, Roles: Role(r)}, true
	}
	return Peer{}, false
}

// Allow checks a message ctx is handling against the role it needs: nil
// for a message sent on this node or by a node with the role, else an
// error matching [ErrForbidden] that names the node and what it lacked,
// counted in the node's [NodeStats].Refused.
func Allow(ctx actor.ReceiverContext, need Role) error {
	p, remote := PeerOf(ctx)
	if !remote || p.Roles.Has(need) {
		return nil
	}
	err := p.forbidden(need)
	if n := guarded.get(ctx.ActorSystem()); n != nil {
		n.refuse(p.Address, err)
	}
	return err
}

// Unproven is the refusal of a message that came from another node
// without the guard's stamp, on a node whose guard stamps every message
// it lets through: nothing can vouch for it.
func Unproven(ctx actor.ReceiverContext) error {
	if n := guarded.get(ctx.ActorSystem()); n != nil {
		err := fmt.Errorf("%w: a message from another node that its node did not prove", ErrForbidden)
		n.refuse("", err)
		return err
	}
	return nil
}

func (p Peer) forbidden(need Role) error {
	return fmt.Errorf("%w: node %s has %s, needs %s", ErrForbidden, p.Address, p.Roles, need)
}
