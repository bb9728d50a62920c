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
	// Socket are the socket-level options (transport, framing, mode,
	// timeouts): see [transport.Options].
	Socket []transport.Option
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Tracer traces every connection (Erlang's sys debug). Default none.
	Tracer actors.Tracer
	// IdleHibernate hibernates a connection idle this long. Default never.
	IdleHibernate time.Duration
	// ParkAfter is how long an idle connection keeps its reader goroutine
	// before parking on the shared poller. Default 200 ms; negative never.
	ParkAfter time.Duration
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

func buildOptions(opts []Option) (Options, transport.Options, error) {
	var o Options
	for i, opt := range opts {
		if opt == nil {
			return o, transport.Options{}, fmt.Errorf("%w: option %d is nil", ErrInvalidOptions, i)
		}
		opt(&o)
	}
	if o.Acceptors == 0 {
		o.Acceptors = DefaultAcceptors
	}
	if o.Acceptors < 0 {
		return o, transport.Options{}, fmt.Errorf("%w: Acceptors %d is negative", ErrInvalidOptions, o.Acceptors)
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
