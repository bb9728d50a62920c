package pool

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
)

// Strategy is how a send picks one of the live connections.
type Strategy uint8

const (
	// RoundRobin takes the live connections in turn (the default).
	RoundRobin Strategy = iota
	// Random takes one at random.
	Random
	// LeastBusy takes the one with the fewest requests in flight
	// (SendSync and Call made through the pool), in turn among equals.
	LeastBusy
)

var strategyNames = [...]string{"round-robin", "random", "least-busy"}

// String names the strategy.
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", s)
}

// config is a pool's options. Start fills in the defaults and validates
// them, so a bad option fails Start, never later.
type config struct {
	// Name names the pool's actor ("etcp/<Name>"). Default: a unique
	// "pool-N".
	Name string
	// ConnOptions are what every connection gets: socket options
	// (including the 3 s connect timeout), logger (also the pool's),
	// tracer, idle hibernation and parking (set with actors.WithSocket,
	// actors.WithLogger...).
	actors.ConnOptions
	// ExitPolicy decides what happens to a connection that ended or failed
	// to start. Default: Always(RestartBackoff()).
	ExitPolicy ExitPolicy
	// Backoff sets the delays of [ActionBackoff]; zero fields take the
	// defaults of [DefaultBackoff].
	Backoff Backoff
	// Strategy picks a connection for each send. Default RoundRobin.
	Strategy Strategy
	// WaitForConnection is how long a send waits for a connection to come
	// up when none is live. Default 0: it fails at once with
	// [ErrNoConnection].
	WaitForConnection time.Duration
	// Parent spawns the pool's actor: an actor's context makes the pool
	// that actor's child (stopping it stops the pool, every Terminate
	// run). Default: the actor system's root.
	Parent actor.SpawnerContext
	// StopGrace is how long a stopping connection may take to deliver
	// what it has queued and run Terminate before its socket is
	// interrupted, and, host.ForceSettle later, shut down if it is
	// still in a callback. Default [DefaultStopGrace].
	StopGrace time.Duration

	exitPolicySet bool
}

// Option configures a pool: the options of this package, or any of
// package actors that every server, client and pool takes
// (actors.WithSocket, actors.WithLogger, actors.WithTracer,
// actors.WithIdleHibernate, actors.WithParkAfter).
type Option = actors.Option

// WithName names the pool's actor ("etcp/<name>"). Default: a unique
// "pool-N".
func WithName(name string) Option {
	return host.OwnOption("pool.WithName", func(o *config) { o.Name = name })
}

// WithExitPolicy sets the policy deciding, per connection, what happens
// when it ends or fails to start; [Always] turns one [Decision] into a
// policy. Default: Always(RestartBackoff()).
func WithExitPolicy(p ExitPolicy) Option {
	return host.OwnOption("pool.WithExitPolicy", func(o *config) { o.ExitPolicy, o.exitPolicySet = p, true })
}

// WithParent starts the pool under parent (an actor's context, from
// inside its Receive), as that actor's child: stopping it stops the pool,
// every Terminate run. Default: the actor system's root.
func WithParent(parent actor.SpawnerContext) Option {
	return host.OwnOption("pool.WithParent", func(o *config) { o.Parent = parent })
}

// WithBackoff sets the delays of [ActionBackoff]; zero fields take the
// defaults of [DefaultBackoff].
func WithBackoff(b Backoff) Option {
	return host.OwnOption("pool.WithBackoff", func(o *config) { o.Backoff = b })
}

// WithStrategy sets how sends pick a connection. Default [RoundRobin].
func WithStrategy(s Strategy) Option {
	return host.OwnOption("pool.WithStrategy", func(o *config) { o.Strategy = s })
}

// DefaultStopGrace is the default of [WithStopGrace], as a server's.
const DefaultStopGrace = 500 * time.Millisecond

// WithStopGrace sets how long a stopping connection may take to deliver
// what it has queued and run Terminate before its socket is interrupted
// (0: [DefaultStopGrace]).
func WithStopGrace(d time.Duration) Option {
	return host.OwnOption("pool.WithStopGrace", func(o *config) { o.StopGrace = d })
}

// WithWaitForConnection makes a send that finds no live connection wait
// up to d for one to come up before it fails with [ErrNoConnection].
func WithWaitForConnection(d time.Duration) Option {
	return host.OwnOption("pool.WithWaitForConnection", func(o *config) { o.WaitForConnection = d })
}

// options applies opts over the defaults and validates what is the
// pool's own.
func options(opts []Option) (config, error) {
	var o config
	if err := host.Apply(&o, opts); err != nil {
		return o, invalidOptions(err)
	}
	var err error
	switch {
	case o.WaitForConnection < 0:
		err = fmt.Errorf("%w: WaitForConnection is negative", ErrInvalidOptions)
	case o.StopGrace < 0:
		err = fmt.Errorf("%w: StopGrace is negative", ErrInvalidOptions)
	case o.Strategy > LeastBusy:
		err = fmt.Errorf("%w: unknown %v", ErrInvalidOptions, o.Strategy)
	case o.exitPolicySet && o.ExitPolicy == nil:
		err = fmt.Errorf("%w: nil ExitPolicy", ErrInvalidOptions)
	}
	if err != nil {
		return o, err
	}
	if o.ExitPolicy == nil {
		o.ExitPolicy = Always(RestartBackoff())
	}
	if o.StopGrace == 0 {
		o.StopGrace = DefaultStopGrace
	}
	o.Backoff, err = o.Backoff.withDefaults()
	return o, err
}
