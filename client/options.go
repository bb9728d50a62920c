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
	// Socket are the socket-level options (transport, framing, mode,
	// timeouts, including the 3 s connect timeout): see [transport.Options].
	Socket []transport.Option
	// Logger receives the connection's logs. Default slog.Default().
	Logger *slog.Logger
	// Tracer traces the connection. Default none.
	Tracer actors.Tracer
	// IdleHibernate hibernates the connection when idle this long. Default never.
	IdleHibernate time.Duration
	// ParkAfter is how long an idle connection keeps its reader goroutine
	// before parking on the shared poller. Default 200 ms; negative never.
	ParkAfter time.Duration
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

func buildOptions(opts []Option) (Options, transport.Options, error) {
	var o Options
	for i, opt := range opts {
		if opt == nil {
			return o, transport.Options{}, fmt.Errorf("%w: option %d is nil", ErrInvalidOptions, i)
		}
		opt(&o)
	}
	if o.IdleHibernate < 0 {
		return o, transport.Options{}, fmt.Errorf("%w: IdleHibernate is negative", ErrInvalidOptions)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	so, err := transport.New(o.Socket...)
	if err != nil {
		return o, so, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return o, so, nil
}
