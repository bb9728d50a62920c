package client

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
)

var connSeq atomic.Uint64

// Dial connects to addr and starts a connection actor for it with a
// handler from factory and arg as its Init argument. The actor is spawned
// by spawner: the actor system's Root, or an actor's own context to make
// the connection that actor's child. Dial returns once Init has run: its
// error says why the connect, the handshake or Init failed, and wraps
// actors.ErrDeclined when Init declined.
func Dial(ctx context.Context, spawner actor.SpawnerContext, addr string, factory behaviours.Factory, arg any, opts ...Option) (*actor.PID, error) {
	if spawner == nil || factory == nil {
		return nil, fmt.Errorf("%w: nil spawner or handler factory", ErrInvalidOptions)
	}
	o, cfg, err := buildOptions(opts, spawner.ActorSystem().Logger())
	if err != nil {
		return nil, err
	}
	so := &cfg.Socket
	dctx, cancel := context.WithTimeout(ctx, so.ConnectTimeout)
	sock, err := so.Transport.Dial(dctx, addr, so)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("etcp/client: %w", err)
	}
	up := make(chan error, 1)
	cfg.Factory, cfg.Arg, cfg.Owner = factory, arg, startWatcher(up)
	id := connSeq.Add(1)
	c := actors.NewConn(&cfg, sock, id, false)
	var pid *actor.PID
	if o.Name == "" {
		pid, err = spawner.SpawnNamed(c.Props(), fmt.Sprintf("conn-%d", id))
	} else {
		pid, err = spawner.SpawnNamed(c.Props(), o.Name)
	}
	if err != nil {
		c.Abandon()
		return nil, fmt.Errorf("etcp/client: spawn: %w", err)
	}
	select {
	case err := <-up:
		if err != nil {
			return nil, fmt.Errorf("etcp/client: start %s: %w", addr, err)
		}
		return pid, nil
	case <-ctx.Done():
		spawner.ActorSystem().Root.Stop(pid)
		return nil, fmt.Errorf("etcp/client: start %s: %w", addr, ctx.Err())
	}
}

// startWatcher reports the outcome of the start to Dial.
type startWatcher chan<- error

func (w startWatcher) ConnUp(_ actors.ConnInfo, err error) { w <- err }
func (startWatcher) ConnDown(actors.ConnInfo, error)       {}
func (startWatcher) StopReason() error                     { return nil }
