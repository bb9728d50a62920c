package actors

import (
	"errors"
	"log/slog"
	"time"

	"github.com/etcp-go/etcp/transport"
)

// ConnOptions are the options a server, client or pool gives every one of
// its connections. Each of those packages embeds them in its own Options
// and offers a With* option per field.
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
	// before parking on the shared poller. Default 10 ms; negative never.
	ParkAfter time.Duration
}

// Build validates o and returns the connection Config they make, with the
// logger defaulting to fallback; the owner fills in Factory, Arg, Owner
// and Live.
func (o *ConnOptions) Build(fallback *slog.Logger) (Config, error) {
	if o.IdleHibernate < 0 {
		return Config{}, errors.New("IdleHibernate is negative")
	}
	so, err := transport.New(o.Socket...)
	if err != nil {
		return Config{}, err
	}
	logger := o.Logger
	if logger == nil {
		logger = fallback
	}
	return Config{Socket: so, Logger: logger, Tracer: o.Tracer,
		IdleHibernate: o.IdleHibernate, ParkAfter: o.ParkAfter}, nil
}
