package host

import (
	"context"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/internal/hostapi"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/transport"
)

// Group is the set of connections one server, client or pool owns: what
// they share (socket options, handler factory, init argument, logger,
// tracer), the list of those that are up, their counts by state, and the
// goroutines they run. Its methods are safe for concurrent use, but the
// Set methods must be called before the first Spawn.
type Group interface {
	// Registry is where the group's connections are registered.
	Registry() registry.Registry
	// Connections lists the connections that are up.
	Connections() ([]actors.ConnInfo, error)
	// Socket is the group's validated socket options.
	Socket() *transport.Options
	// Logger is the group's logger.
	Logger() *slog.Logger
	// SetLogger replaces the logger.
	SetLogger(l *slog.Logger)
	// SetAlias names every connection in the registry too (a named client's).
	SetAlias(name string)
	// SetArg sets the argument Init receives.
	SetArg(arg any)
	// SetOnEnd is called as each connection ends; counted says whether it
	// still held its slot (see Uncount).
	SetOnEnd(f func(counted bool))
	// HandshakeFailures counts the transport handshakes that failed or
	// timed out.
	HandshakeFailures() int64
	// BeginStop tells the group its owner is stopping its connections:
	// their Terminate sees reason (nil: actors.ErrShutdown), and they no
	// longer send ConnDown. Call it before stopping them.
	BeginStop(reason error)
	// Spawn makes the connection actor for sock, a connected socket
	// (accepted from a listener when accepted is true), spawned by spawner
	// under name with id as its ID; it returns at once. If notify is not
	// nil it is sent a *actors.ConnUp once Init has run (or the start
	// failed), and a *actors.ConnDown when a connection that came up ends.
	// If the spawn fails, the socket is closed.
	Spawn(spawner actor.SpawnerContext, name string, id uint64, sock transport.Conn,
		accepted bool, notify *actor.PID) (*actor.PID, error)
	// Start is Spawn for a client: it returns once Init has run, with the
	// reason the handshake or Init failed (wrapping actors.ErrDeclined for
	// a decline), or ctx's error if ctx ends first (the connection is then
	// stopped).
	Start(ctx context.Context, spawner actor.SpawnerContext, name string, id uint64,
		sock transport.Conn) (*actor.PID, error)
	// Force interrupts every connection's blocked socket operation by
	// setting its deadline in the past; the connections then end with
	// their owner's stop reason.
	Force()
	// ForceClose shuts down the socket of every connection that still has
	// an actor (those stuck in a callback), once Force has had time.
	ForceClose()
	// ForceAfter runs Force once grace has passed and ForceClose
	// ForceSettle later; the function it returns cancels what has not run.
	ForceAfter(grace time.Duration) (cancel func())
	// Stats counts the group's connections by state.
	Stats() actors.Stats
	// ConnStats reads every live connection's counters.
	ConnStats() []actors.ConnStats
	// EachConnStats calls fn with each live connection's counters until
	// it returns false; unless full, the fields read from the registry
	// (Local, Peer, Transport) are left zero.
	EachConnStats(full bool, fn func(*actors.ConnStats) bool)
	// Uncount takes the connection pid of sys out of the group's count
	// (ranch's remove_connection): done says it was counted until now,
	// ours that it is one of the group's.
	Uncount(sys *actor.ActorSystem, pid *actor.PID) (done, ours bool)
	// Wait returns once every connection the group spawned has ended and
	// its goroutines have exited. Stop the connections first.
	Wait()
}

// Spawner is Group.Spawn for one goroutine (or one actor) at a time: its
// Props are made once and reused for every connection it spawns.
type Spawner interface {
	Spawn(spawner actor.SpawnerContext, name string, id uint64, sock transport.Conn,
		accepted bool, notify *actor.PID) (*actor.PID, error)
}

// NewGroup validates o and makes a group of sys's whose connections, owned
// by owner (a name for logs and registry entries), get a handler from
// factory and arg as their Init argument. An invalid option is an error
// wrapping actors.ErrInvalidOptions.
func NewGroup(sys *actor.ActorSystem, owner string, o *actors.ConnOptions, factory behaviours.Factory, arg any) (Group, error) {
	g, err := hostapi.NewGroup(sys, owner, o, factory, arg)
	if err != nil {
		return nil, err
	}
	return g.(Group), nil
}

// NewSpawner returns a Spawner of g's connections (g made by NewGroup).
func NewSpawner(g Group) Spawner { return hostapi.NewSpawner(g).(Spawner) }

// ForceSettle is how long after Force a connection still alive, which can
// only be in a callback that does not return, has its socket shut down
// (ForceClose).
const ForceSettle = hostapi.ForceSettle

// SelfName is the name a connection is registered under in reg, besides
// any its handler chose: its PID's id; in a registry shared with other
// nodes, prefixed with its node's address.
func SelfName(reg registry.Registry, pid *actor.PID) string { return hostapi.SelfName(reg, pid) }
