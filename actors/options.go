package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/transport"
)

// ErrInvalidOptions: an option is invalid. It is
// transport.ErrInvalidOptions, the one sentinel of invalid options
// (server, client and pool re-export it too).
var ErrInvalidOptions = transport.ErrInvalidOptions

// invalidOptions is err as an invalid-options error: err itself when it already
// wraps ErrInvalidOptions, so that "invalid options" is said once.
func invalidOptions(err error) error {
	if errors.Is(err, ErrInvalidOptions) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
}

// ConnOptions are the options a server, client or pool gives every one of
// its connections. Each of those packages embeds them in its own options;
// the With* functions of this package set them, and all three accept
// them.
type ConnOptions struct {
	// Socket are the socket-level options (transport, framing, mode,
	// timeouts): see [transport.Options].
	Socket []transport.Option
	// Logger receives the logs. Default: the actor system's logger.
	Logger *slog.Logger
	// Tracer traces every connection (Erlang's sys debug). Default none.
	Tracer Tracer
	// IdleHibernate hibernates a connection idle this long. Default never.
	IdleHibernate time.Duration
	// ParkAfter is how long an idle connection keeps its reader goroutine
	// before parking on the shared poller. Default [DefaultParkAfter];
	// negative never. A busy connection looks less often: each look that
	// finds bytes were read doubles the wait, up to 64 × ParkAfter, and
	// parking starts it over.
	ParkAfter time.Duration
	// IdleTimeout closes (resets) a connection that received no complete
	// frame for this long, whatever its handler does: partial frames do
	// not count, so a peer that trickles bytes (slowloris) is closed too.
	// Checked every quarter of it. Default 0: never.
	IdleTimeout time.Duration
	// EventLoops is the number of event loops that serve the TCP and Unix
	// connections instead of a goroutine each; 0: none. See [WithEventLoop].
	EventLoops int
	// WriteQueue bounds what is sent to a connection and not yet written.
	// Zero fields take the defaults of [DefaultWriteQueue].
	WriteQueue WriteQueue
	// MailboxLimit bounds the messages (calls, casts, events, sends,
	// infos) waiting in a connection's mailbox: one more is refused with
	// an error wrapping [ErrOverflow] and the connection ends, so no
	// sender, local or remote, can grow a connection without limit. Its
	// own socket reads and timers are not counted. Default
	// [DefaultMailboxLimit].
	MailboxLimit int
	// Registry is where every connection is registered while it lives
	// (under its PID's id, with its owner, id, addresses, transport and
	// start time), and where its handler's names go. Default: the actor
	// system's (registry.Of); registry.None() keeps no list.
	Registry registry.Registry
	// HalfClose keeps a connection up for writing once its peer has shut
	// down its write side (Erlang's {exit_on_close, false}): see
	// [WithHalfClose]. Default off: the peer's FIN ends the connection.
	HalfClose bool
}

func (o *ConnOptions) connOptions() *ConnOptions { return o }

// DefaultMailboxLimit is the default of ConnOptions.MailboxLimit.
const DefaultMailboxLimit = 65536

// DefaultParkAfter is how long a connection's reader waits for bytes in
// its own goroutine before parking on the shared poller.
const DefaultParkAfter = 10 * time.Millisecond

// Option configures a server, client or pool. The With* functions of this
// package make the options all three take; packages server, client and
// pool add their own (server.WithAcceptors, pool.WithStrategy...).
type Option interface {
	apply(configurable) error
}

// configurable is the options of a server, client or pool: each embeds
// ConnOptions.
type configurable interface{ connOptions() *ConnOptions }

type connOption func(*ConnOptions)

func (f connOption) apply(c configurable) error {
	f(c.connOptions())
	return nil
}

// WithSocket adds socket-level options (transport, framing, mode,
// timeouts).
func WithSocket(opts ...transport.Option) Option {
	return connOption(func(o *ConnOptions) { o.Socket = append(o.Socket, opts...) })
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return connOption(func(o *ConnOptions) { o.Logger = l }) }

// WithTracer traces every connection.
func WithTracer(t Tracer) Option { return connOption(func(o *ConnOptions) { o.Tracer = t }) }

// WithIdleHibernate hibernates connections idle for d.
func WithIdleHibernate(d time.Duration) Option {
	return connOption(func(o *ConnOptions) { o.IdleHibernate = d })
}

// WithParkAfter sets how long an idle connection keeps its reader
// goroutine before it parks (negative: always).
func WithParkAfter(d time.Duration) Option {
	return connOption(func(o *ConnOptions) { o.ParkAfter = d })
}

// WithRegistry registers the connections in r (registry.None(): nowhere).
func WithRegistry(r registry.Registry) Option {
	return connOption(func(o *ConnOptions) { o.Registry = r })
}

// WithEventLoop serves TCP and Unix connections from loops event loops
// (0: one per GOMAXPROCS), as gnet and Redis do: each loop is one
// goroutine waiting on its own epoll instance, and when bytes arrive it
// reads them and runs the connection's actor right there, for every ready
// connection of the wake-up in turn, with no goroutine per connection and
// no goroutine switch per message. A connection stays on one loop.
// Callbacks, mailbox and supervision are unchanged. It saves the
// scheduler's work and the read that finds nothing; the socket's
// registration stays armed between messages, so a message costs its read
// and its write: with one loop, examples/kv answers redis-benchmark as
// fast as redis-server (README, Benchmarks). On a machine shared with its
// clients fewer loops than cores do better; a server alone on many cores
// wants one per core.
//
// The rule that comes with it: callbacks must not block, or they stall
// the other connections of their loop. Writes never do (what the socket
// does not take at once is written by the loop when the socket can take
// more: EPOLLOUT), and a StartTLS handshake hands the loop to another
// goroutine first. TLS connections and other transports keep a goroutine
// each. Off by default.
func WithEventLoop(loops int) Option {
	return connOption(func(o *ConnOptions) {
		if loops <= 0 {
			loops = runtime.GOMAXPROCS(0)
		}
		o.EventLoops = loops
	})
}

// WithHalfClose keeps each connection up for writing after its peer shut
// down its write side (sent a FIN: a shutdown(SHUT_WR), CloseWrite, `nc
// -N`), as Erlang's {exit_on_close, false} does. HandleDisconnect still
// runs when the FIN is read; but Terminate does not follow, and the
// connection's sends, calls, casts and other messages work on, so a reply
// computed after the peer's FIN still reaches it. Nothing is read any
// more. The connection ends when a Result closes or stops it, when it
// shuts down its own write side too (behaviours.CloseWrite), or when a
// write fails (the peer went away for good). Off by default: the peer's
// FIN ends the connection once HandleDisconnect returns.
func WithHalfClose() Option { return connOption(func(o *ConnOptions) { o.HalfClose = true }) }

// WithIdleTimeout closes connections that receive no complete frame for
// d (0: never).
func WithIdleTimeout(d time.Duration) Option {
	return connOption(func(o *ConnOptions) { o.IdleTimeout = d })
}

// WithWriteQueue bounds the bytes sent to a connection and not yet
// written: watermarks, back-pressure and a hard cap.
func WithWriteQueue(q WriteQueue) Option {
	return connOption(func(o *ConnOptions) { o.WriteQueue = q })
}

// WithMailboxLimit bounds the messages waiting in a connection's mailbox
// (see ConnOptions.MailboxLimit).
func WithMailboxLimit(n int) Option {
	return connOption(func(o *ConnOptions) { o.MailboxLimit = n })
}

// ownOption is an option that only one kind of owner takes (the options of
// package server, client or pool; made by host.OwnOption): set sets it
// and reports whether o is of that kind.
type ownOption struct {
	name string
	set  func(o any) bool
}

func (o ownOption) apply(c configurable) error {
	if !o.set(c) {
		return fmt.Errorf("%w: %s is not an option of a %T", ErrInvalidOptions, o.name, c)
	}
	return nil
}

// applyOptions applies opts in order to o, the options of a server, client
// or pool (host.Apply). A nil option, or one of another kind of owner, is
// an error wrapping [ErrInvalidOptions].
func applyOptions(o configurable, opts []Option) error {
	for i, opt := range opts {
		if opt == nil {
			return fmt.Errorf("%w: option %d is nil", ErrInvalidOptions, i)
		}
		if err := opt.apply(o); err != nil {
			return err
		}
	}
	return nil
}

// validate checks o and returns its socket options with every default
// filled in.
func (o *ConnOptions) validate() (transport.Options, error) {
	switch {
	case o.IdleHibernate < 0:
		return transport.Options{}, fmt.Errorf("%w: IdleHibernate is negative", ErrInvalidOptions)
	case o.IdleTimeout < 0:
		return transport.Options{}, fmt.Errorf("%w: IdleTimeout is negative", ErrInvalidOptions)
	case o.EventLoops < 0:
		return transport.Options{}, fmt.Errorf("%w: EventLoops is negative", ErrInvalidOptions)
	case o.MailboxLimit < 0:
		return transport.Options{}, fmt.Errorf("%w: MailboxLimit is negative", ErrInvalidOptions)
	}
	if o.MailboxLimit == 0 {
		o.MailboxLimit = DefaultMailboxLimit
	}
	if err := o.WriteQueue.validate(); err != nil {
		return transport.Options{}, err
	}
	so, err := transport.New(o.Socket...)
	if err != nil {
		return so, invalidOptions(err)
	}
	return so, nil
}
