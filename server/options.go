package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/transport"
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
	// tracer, idle hibernation, parking.
	actors.ConnOptions
}

// Option changes [Options].
type Option func(*Options)

// WithName names the server.
func WithName(name string) Option { return func(o *Options) { o.Name = name } }

// WithAcceptors sets the number of acceptors.
func WithAcceptors(n int) Option { return func(o *Options) { o.Acceptors = n } }

// WithStartAsleep starts the server with its acceptors asleep.
func WithStartAsleep() Option { return func(o *Options) { o.StartAsleep = true } }

// WithSocket adds socket-level options (transport, framing, mode, timeouts).
func WithSocket(opts ...transport.Option) Option {
	return func(o *Options) { o.Socket = append(o.Socket, opts...) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithTracer traces every connection of the server.
func WithTracer(t actors.Tracer) Option { return func(o *Options) { o.Tracer = t } }

// WithIdleHibernate hibernates connections idle for d.
func WithIdleHibernate(d time.Duration) Option { return func(o *Options) { o.IdleHibernate = d } }

// WithParkAfter sets how long an idle connection keeps its reader
// goroutine (negative: always).
func WithParkAfter(d time.Duration) Option { return func(o *Options) { o.ParkAfter = d } }

func buildOptions(opts []Option, fallback *slog.Logger) (Options, actors.Config, error) {
	var o Options
	for i, opt := range opts {
		if opt == nil {
			return o, actors.Config{}, fmt.Errorf("%w: option %d is nil", ErrInvalidOptions, i)
		}
		opt(&o)
	}
	if o.Acceptors == 0 {
		o.Acceptors = DefaultAcceptors
	}
	if o.Acceptors < 0 {
		return o, actors.Config{}, fmt.Errorf("%w: Acceptors %d is negative", ErrInvalidOptions, o.Acceptors)
	}
	cfg, err := o.Build(fallback)
	if err != nil {
		return o, cfg, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return o, cfg, nil
}
