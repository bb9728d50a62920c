package client

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/transport"
)

// ErrInvalidOptions: Dial was given a bad option.
var ErrInvalidOptions = errors.New("etcp/client: invalid options")

// Options configure a client connection. Dial fills in the defaults and
// validates them.
type Options struct {
	// Name spawns the connection actor under this name. Default: a unique
	// "conn-N".
	Name string
	// ConnOptions are the connection's socket options (including the 3 s
	// connect timeout), logger, tracer, idle hibernation and parking.
	actors.ConnOptions
}

// Option changes [Options].
type Option func(*Options)

// WithName names the connection's actor.
func WithName(name string) Option { return func(o *Options) { o.Name = name } }

// WithSocket adds socket-level options.
func WithSocket(opts ...transport.Option) Option {
	return func(o *Options) { o.Socket = append(o.Socket, opts...) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithTracer traces the connection.
func WithTracer(t actors.Tracer) Option { return func(o *Options) { o.Tracer = t } }

// WithIdleHibernate hibernates the connection when idle for d.
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
	cfg, err := o.Build(fallback)
	if err != nil {
		return o, cfg, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return o, cfg, nil
}
