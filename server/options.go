package server

import (
	"fmt"

	"github.com/etcp-go/etcp/actors"
)

// DefaultAcceptors is the number of acceptors a server starts, as etcp and
// ranch.
const DefaultAcceptors = 10

// Options configure a server. Start fills in the defaults and validates
// them, so a bad option fails Start, never later.
type Options struct {
	// Name names the server's actor ("etcp/<Name>"). Default: a unique
	// "server-N".
	Name string
	// Acceptors is the number of acceptor actors. Default 10.
	Acceptors int
	// StartAsleep starts the acceptors asleep; Wake starts accepting.
	StartAsleep bool
	// ConnOptions are what every connection gets: socket options, logger,
	// tracer, idle hibernation, parking (set with actors.WithSocket,
	// actors.WithLogger...).
	actors.ConnOptions
}

// Option configures a server: the options of this package, or any of
// package actors that every server, client and pool takes
// (actors.WithSocket, actors.WithLogger, actors.WithTracer,
// actors.WithIdleHibernate, actors.WithParkAfter).
type Option = actors.Option

// WithName names the server.
func WithName(name string) Option {
	return actors.OwnOption("server.WithName", func(o *Options) { o.Name = name })
}

// WithAcceptors sets the number of acceptors.
func WithAcceptors(n int) Option {
	return actors.OwnOption("server.WithAcceptors", func(o *Options) { o.Acceptors = n })
}

// WithStartAsleep starts the server with its acceptors asleep.
func WithStartAsleep() Option {
	return actors.OwnOption("server.WithStartAsleep", func(o *Options) { o.StartAsleep = true })
}

// options applies opts over the defaults and validates what is the
// server's own.
func options(opts []Option) (Options, error) {
	var o Options
	if err := actors.Apply(&o, opts); err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if o.Acceptors == 0 {
		o.Acceptors = DefaultAcceptors
	}
	if o.Acceptors < 0 {
		return o, fmt.Errorf("%w: Acceptors %d is negative", ErrInvalidOptions, o.Acceptors)
	}
	return o, nil
}
