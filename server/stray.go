package server

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
)

// stray logs and drops a message an infrastructure actor does not know;
// a request gets an error reply rather than a timeout.
func stray(s *Server, ctx actor.Context, role string) {
	s.log.Warn("etcp: stray message dropped", "to", role, "type", typeName(ctx.Message()))
	if ctx.Sender() != nil {
		ctx.Respond(&actors.Reply{Err: errStray})
	}
}

// errStray answers a request an infrastructure actor does not know.
var errStray = errors.New("etcp/server: unknown request")
