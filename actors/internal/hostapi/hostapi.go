// Package hostapi joins package actors to package actors/host: actors
// keeps its hosting machinery unexported and sets these hooks in its init;
// host calls them. Neither imports the other through here, so that host
// may import actors.
package hostapi

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
)

// The hooks actors sets. Their values of type any are actors' own types:
// o is an owner's Options (each embeds actors.ConnOptions), opts an
// []actors.Option, and what NewGroup, NewSpawner and OwnOption return are
// a group, a spawner and an actors.Option.
var (
	NewGroup   func(sys *actor.ActorSystem, owner string, o any, factory behaviours.Factory, arg any) (any, error)
	NewSpawner func(group any) any
	Apply      func(o any, opts any) error
	OwnOption  func(name string, set func(o any) bool) any
	Tell       func(s actor.SenderContext, pid *actor.PID, msg any) error
	SendSync   func(ctx context.Context, s actor.SenderContext, pid *actor.PID, p []byte) error
	ForceClose func(sys *actor.ActorSystem, pid *actor.PID) bool
)

// ForceSettle is how long after a group's Force a connection still alive,
// which can only be in a callback that does not return, has its socket
// shut down (its ForceClose). The interruption comes first, and alone for
// that long, so that a connection blocked on its socket ends with its
// owner's stop reason rather than the error of a shut-down socket.
const ForceSettle = 200 * time.Millisecond

// SelfName is the name a connection is registered under in reg, besides
// any its handler chose: its PID's id, unique in its process; in a
// registry shared with other nodes (anything but a Local one), prefixed
// with its node's address, since two nodes may run servers of the same
// names.
func SelfName(reg registry.Registry, pid *actor.PID) string {
	if _, local := reg.(*registry.Local); local {
		return pid.Id
	}
	return pid.Address + "/" + pid.Id
}
