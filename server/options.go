package server

import (
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
)

// Defaults of the server's options. In every server option zero means the default,
// and a negative value fails Start with [ErrInvalidOptions].
const (
	// DefaultAcceptors is the number of acceptors a server starts, as etcp
	// and ranch.
	DefaultAcceptors = 10
	// DefaultMaxConnections is ranch's max_connections: a server exposed
	// to the internet holds at most this many connections unless told
	// otherwise (a few MB of memory), and peers past it wait in the listen
	// backlog. Raise it with WithMaxConnections ([NoLimit]: none).
	DefaultMaxConnections = 1024
	// DefaultListeners is the number of listening sockets.
	DefaultListeners = 1
	// DefaultStopGrace is how long Stop lets a connection flush and run
	// Terminate before interrupting its blocked socket.
	DefaultStopGrace = 500 * time.Millisecond
)

// NoLimit, as a connection limit ([WithMaxConnections],
// [Server.SetMaxConnections]), means none (ranch's infinity); it is also
// what [Info].MaxConnections reads then.
const NoLimit = math.MaxInt

// config is a server's options. Start fills in the defaults and validates
// them, so a bad option fails Start, never later.
type config struct {
	// Name names the server's actor ("etcp/<Name>"). Default: a unique
	// "server-N".
	Name string
	// Acceptors is the number of acceptor actors. Default
	// [DefaultAcceptors].
	Acceptors int
	// StartAsleep starts the acceptors asleep; Wake starts accepting.
	StartAsleep bool
	// MaxConnections bounds the live connections (ranch's
	// max_connections). At the limit the acceptors stop accepting, so new
	// peers wait in the listen backlog, never reset; a connection ending
	// admits the next. Default [DefaultMaxConnections]; [NoLimit]: none.
	MaxConnections int
	// RejectOverLimit accepts peers past MaxConnections and closes them at
	// once, instead of leaving them in the backlog. Default false.
	RejectOverLimit bool
	// Listeners is the number of listening sockets sharing the address
	// with SO_REUSEPORT (ranch's num_listen_sockets); acceptor i accepts
	// from socket i mod Listeners. Default [DefaultListeners].
	Listeners int
	// StopGrace is how long a stopping connection may take to flush and
	// run Terminate before its blocked socket is interrupted. Default
	// [DefaultStopGrace].
	StopGrace time.Duration
	// Parent spawns the server's supervisor: an actor's context makes the
	// server that actor's child (its supervisor sees it, and stopping it
	// stops the server, every Terminate run). Default: the actor system's
	// root.
	Parent actor.SpawnerContext
	// Alarms are threshold alarms on the connection count (WithAlarm).
	// Default: none.
	Alarms []Alarm
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

// WithName names the server's actor ("etcp/<name>"). Default: a unique
// "server-N".
func WithName(name string) Option {
	return host.OwnOption("server.WithName", func(o *config) { o.Name = name })
}

// WithAcceptors sets the number of acceptors (0: [DefaultAcceptors]).
func WithAcceptors(n int) Option {
	return host.OwnOption("server.WithAcceptors", func(o *config) { o.Acceptors = n })
}

// WithStartAsleep starts the server with its acceptors asleep.
func WithStartAsleep() Option {
	return host.OwnOption("server.WithStartAsleep", func(o *config) { o.StartAsleep = true })
}

// WithMaxConnections bounds the live connections (ranch's
// max_connections; 0: [DefaultMaxConnections]; [NoLimit]: none). At the
// limit the acceptors stop accepting, so new peers wait in the listen
// backlog, never reset; a connection ending admits the next.
func WithMaxConnections(n int) Option {
	return host.OwnOption("server.WithMaxConnections", func(o *config) { o.MaxConnections = n })
}

// WithRejectOverLimit closes peers past the connection limit at once
// instead of leaving them in the backlog.
func WithRejectOverLimit() Option {
	return host.OwnOption("server.WithRejectOverLimit", func(o *config) { o.RejectOverLimit = true })
}

// WithListeners opens n listening sockets sharing the address with
// SO_REUSEPORT (TCP, Linux; ranch's num_listen_sockets); 0:
// [DefaultListeners]. Acceptor i accepts from socket i mod n, so n may not
// exceed the number of acceptors.
func WithListeners(n int) Option {
	return host.OwnOption("server.WithListeners", func(o *config) { o.Listeners = n })
}

// WithStopGrace sets how long a stopping connection may take before its
// blocked socket is interrupted (0: [DefaultStopGrace]).
func WithStopGrace(d time.Duration) Option {
	return host.OwnOption("server.WithStopGrace", func(o *config) { o.StopGrace = d })
}

// WithParent starts the server under parent (an actor's context, from
// inside its Receive), as that actor's child: its supervisor sees it, and
// stopping it stops the server, every Terminate run. Default: the actor
// system's root.
func WithParent(parent actor.SpawnerContext) Option {
	return host.OwnOption("server.WithParent", func(o *config) { o.Parent = parent })
}

// options applies opts over the defaults and validates what is the
// server's own.
func options(opts []Option) (config, error) {
	var o config
	if err := host.Apply(&o, opts); err != nil {
		return o, invalidOptions(err)
	}
	switch {
	case o.Acceptors < 0:
		return o, fmt.Errorf("%w: Acceptors %d is negative", ErrInvalidOptions, o.Acceptors)
	case o.MaxConnections < 0:
		return o, fmt.Errorf("%w: MaxConnections %d is negative (server.NoLimit: none)", ErrInvalidOptions, o.MaxConnections)
	case o.Listeners < 0:
		return o, fmt.Errorf("%w: Listeners %d is negative", ErrInvalidOptions, o.Listeners)
	case o.StopGrace < 0:
		return o, fmt.Errorf("%w: StopGrace %v is negative", ErrInvalidOptions, o.StopGrace)
	}
	o.Acceptors = orDefault(o.Acceptors, DefaultAcceptors)
	o.MaxConnections = orDefault(o.MaxConnections, DefaultMaxConnections)
	o.Listeners = orDefault(o.Listeners, DefaultListeners)
	o.StopGrace = orDefault(o.StopGrace, DefaultStopGrace)
	for i := range o.Alarms {
		if err := o.Alarms[i].validate(); err != nil {
			return o, err
		}
	}
	if o.Listeners > o.Acceptors {
		return o, fmt.Errorf("%w: Listeners %d is more than the %d acceptors", ErrInvalidOptions, o.Listeners, o.Acceptors)
	}
	return o, nil
}

// orDefault is v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
