package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// NewSystem returns a protoactor actor system whose own logs go to
// logger, or nowhere when logger is nil. protoactor's default logger
// writes coloured lines to stderr ("actor system started" for every
// system); a library should not. opts are protoactor's, applied after.
func NewSystem(logger *slog.Logger, opts ...actor.ConfigOption) *actor.ActorSystem {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := logger.With("lib", "protoactor")
	return actor.NewActorSystem(append([]actor.ConfigOption{
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return l }),
	}, opts...)...)
}
