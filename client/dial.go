package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/registry"
)

var connSeq atomic.Uint64

// Dial connects to addr and starts a connection actor for it with a
// handler from factory and arg as its Init argument. The actor is spawned
// by spawner: the actor system's Root, or an actor's own context to make
// the connection that actor's child. Dial returns once Init has run: its
// error says why the connect, the handshake or Init failed, and wraps
// actors.ErrDeclined when Init declined. A WithName whose registry keeps
// nothing (registry.None) fails at once, with an error matching both
// ErrInvalidOptions and registry.ErrNoRegistry.
func Dial(ctx context.Context, spawner actor.SpawnerContext, addr string, factory behaviours.Factory, arg any, opts ...Option) (*actor.PID, error) {
	if spawner == nil || factory == nil {
		return nil, fmt.Errorf("%w: nil spawner or handler factory", ErrInvalidOptions)
	}
	o, err := options(opts)
	if err != nil {
		return nil, err
	}
	id := connSeq.Add(1)
	name := o.Name
	if name == "" {
		name = fmt.Sprintf("conn-%d", id)
	}
	g, err := host.NewGroup(spawner.ActorSystem(), name, &o.ConnOptions, factory, arg)
	if err != nil {
		return nil, invalidOptions(err)
	}
	if o.Name != "" {
		// A registry that keeps nothing (registry.None) would drop the
		// name without a word: say so now, not at the first send by Name.
		if _, err := g.Registry().Lookup(o.Name); errors.Is(err, registry.ErrNoRegistry) {
			return nil, fmt.Errorf("%w: client.WithName(%q) needs a registry that keeps names: %w",
				ErrInvalidOptions, o.Name, err)
		}
		g.SetAlias(o.Name) // found as client.Name(o.Name), in its registry's scope
	}
	so := g.Socket()
	dctx, cancel := context.WithTimeout(ctx, so.ConnectTimeout)
	sock, err := so.Transport.Dial(dctx, addr, so)
	cancel()
	if err != nil {
		// A transport's dial error names its package, the op and addr.
		if strings.Contains(err.Error(), addr) {
			return nil, err
		}
		return nil, fmt.Errorf("etcp/client: dial %s: %w", addr, err)
	}
	pid, err := g.Start(ctx, spawner, name, id, sock)
	if err != nil {
		if strings.Contains(err.Error(), addr) {
			return nil, fmt.Errorf("etcp/client: start: %w", err)
		}
		return nil, fmt.Errorf("etcp/client: start %s: %w", addr, err)
	}
	return pid, nil
}
