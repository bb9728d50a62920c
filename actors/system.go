package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// NewSystem returns a protoactor actor system whose own logs go to
// logger, or nowhere when logger is nil. protoactor's default logger
// writes coloured lines to stderr ("actor system started" for every
// system); a library should not. A peer leaving normally is logged at
// debug, not as protoactor's lost-connection error (see [SystemLogger]).
// opts are protoactor's, applied after.
func NewSystem(logger *slog.Logger, opts ...actor.ConfigOption) *actor.ActorSystem {
	return actor.NewActorSystem(append([]actor.ConfigOption{SystemLogger(logger)}, opts...)...)
}
