package server

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
)

// Defaults of [Options].
const (
	// DefaultAcceptors is the number of acceptors a server starts, as etcp
	// and ranch.
	DefaultAcceptors = 10
	// DefaultMaxConnections is ranch's max_connections: a server exposed
	// to the internet holds at most this many connections unless told
	// otherwise (a few MB of memory), and peers past it wait in the listen
	// backlog. Raise it with WithMaxConnections (0: no limit).
	DefaultMaxConnections = 1024
	// DefaultStopGrace is how long Stop lets a connection flush and run
	// Terminate before interrupting its blocked socket.
	DefaultStopGrace = 500 * time.Millisecond
)

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
	// MaxConnections bounds the live connections (ranch's
	// max_connections). At the limit the acceptors stop accepting, so new
	// peers wait in the listen backlog, never reset; a connection ending
	// admits the next. Default [DefaultMaxConnections]; 0 after
	// WithMaxConnections(0) means no limit.
	MaxConnections int
	// RejectOverLimit accepts peers past MaxConnections and closes them at
	// once, instead of leaving them in the backlog. Default false.
	RejectOverLimit bool
	// Listeners is the number of listening sockets sharing the address
	// with SO_REUSEPORT (ranch's num_listen_sockets); acceptor i accepts
	// from socket i mod Listeners. Default 1.
	Listeners int
	// StopGrace is how long a stopping connection may take to flush and
	// run Terminate before its blocked socket is interrupted. Default
	// [DefaultStopGrace].
	StopGrace time.Duration
	// Parent spawns the server's supervisor: an actor's context makes the
	// server that actor's child (its supervisor sees it, and stopping it
	// stops the server, every Terminate run). Default: the actor system's
	// root.
	Parent      actor.SpawnerContext
	maxConnsSet bool
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

// WithMaxConnections bounds the live connections (0: no limit).
func WithMaxConnections(n int) Option {
	return actors.OwnOption("server.WithMaxConnections", func(o *Options) { o.MaxConnections, o.maxConnsSet = n, true })
}

// WithRejectOverLimit closes peers past the connection limit at once
// instead of leaving them in the backlog.
func WithRejectOverLimit() Option {
	return actors.OwnOption("server.WithRejectOverLimit", func(o *Options) { o.RejectOverLimit = true })
}

// WithListeners opens n listening sockets sharing the address with
// SO_REUSEPORT (TCP, Linux).
func WithListeners(n int) Option {
	return actors.OwnOption("server.WithListeners", func(o *Options) { o.Listeners = n })
}

// WithStopGrace sets how long a stopping connection may take before its
// blocked socket is interrupted.
func WithStopGrace(d time.Duration) Option {
	return actors.OwnOption("server.WithStopGrace", func(o *Options) { o.StopGrace = d })
}

// WithParent starts the server under parent (an actor's context, from
// inside its Receive), as that actor's child.
func WithParent(parent actor.SpawnerContext) Option {
	return actors.OwnOption("server.WithParent", func(o *Options) { o.Parent = parent })
}

// options applies opts over the defaults and validates what is the
// server's own.
func options(opts []Option) (Options, error) {
	var o Options
	if err := actors.Apply(&o, opts); err != nil {
		return o, invalidOptions(err)
	}
	if o.Acceptors == 0 {
		o.Acceptors = DefaultAcceptors
	}
	if !o.maxConnsSet {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.Listeners == 0 {
		o.Listeners = 1
	}
	if o.StopGrace == 0 {
		o.StopGrace = DefaultStopGrace
	}
	switch {
	case o.Acceptors < 0:
		return o, fmt.Errorf("%w: Acceptors %d is negative", ErrInvalidOptions, o.Acceptors)
	case o.MaxConnections < 0:
		return o, fmt.Errorf("%w: MaxConnections %d is negative", ErrInvalidOptions, o.MaxConnections)
	case o.Listeners < 0 || o.Listeners > max(o.Acceptors, 1):
		return o, fmt.Errorf("%w: Listeners %d must be between 1 and the number of acceptors", ErrInvalidOptions, o.Listeners)
	case o.StopGrace < 0:
		return o, fmt.Errorf("%w: StopGrace is negative", ErrInvalidOptions)
	}
	return o, nil
}
