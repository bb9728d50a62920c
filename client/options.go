package client

import (
	"errors"
	"fmt"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
)

// ErrInvalidOptions: Dial was given a bad option. It is
// actors.ErrInvalidOptions, itself transport.ErrInvalidOptions (and
// server.ErrInvalidOptions, pool.ErrInvalidOptions): one sentinel.
var ErrInvalidOptions = actors.ErrInvalidOptions

// invalidOptions is err as an invalid-options error: err itself when it
// already wraps ErrInvalidOptions, so that "invalid options" is said once.
func invalidOptions(err error) error {
	if errors.Is(err, ErrInvalidOptions) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
}

// config is a client connection's options. Dial fills in the defaults and
// validates them.
type config struct {
	// Name spawns the connection actor under this name, and registers the
	// connection under it in its registry (whichever: local, a cluster's
	// or a user's) while it lives: client functions find it as
	// Name(name). A name another PID holds there (on any node) makes
	// Dial fail with an error matching registry.ErrNameTaken, and a
	// registry that keeps nothing (registry.None) makes it fail at once.
	// Default: a unique "conn-N", not registered under a name.
	Name string
	// ConnOptions are the connection's socket options (including the 3 s
	// connect timeout), logger, tracer, idle hibernation and parking (set
	// with actors.WithSocket, actors.WithLogger...).
	actors.ConnOptions
}

// Option configures a client connection: the options of this package, or
// any of package actors that every server, client and pool takes
// (actors.WithSocket, actors.WithLogger, actors.WithTracer,
// actors.WithIdleHibernate, actors.WithParkAfter).
type Option = actors.Option

// WithName spawns the connection actor under name, and registers the
// connection under it in its registry (local, or a cluster's) while it
// lives: client functions find it as Name(name). Default: a unique
// "conn-N", not registered under a name.
func WithName(name string) Option {
	return host.OwnOption("client.WithName", func(o *config) { o.Name = name })
}

func options(opts []Option) (config, error) {
	var o config
	if err := host.Apply(&o, opts); err != nil {
		return o, invalidOptions(err)
	}
	return o, nil
}
