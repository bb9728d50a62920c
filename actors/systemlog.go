package actors

import (
	"context"
	"log/slog"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// SystemLogger is the protoactor logger option [NewSystem] sets, for an
// actor system made with actor.NewActorSystem: protoactor's own logs go
// to logger (nowhere when nil), tagged lib=protoactor.
//
// protoactor's remote logs "EndpointWriter lost connection" at error
// level whenever a stream to a peer ends, even when the peer left
// normally (its gRPC server stopped gracefully: every etcpctl call's
// node does as it exits) or this node closed the connection itself
// (after the peer's disconnect request, or on its own Shutdown). Those
// two are lowered to debug; any other loss (a reset, a peer killed, a
// network cut) stays an error.
func SystemLogger(logger *slog.Logger) actor.ConfigOption {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := slog.New(normalLeaves{logger.Handler()}).With("lib", "protoactor")
	return actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return l })
}

// lostConnection is the message protoactor's endpoint writer logs when
// its stream's Recv fails (remote/endpoint_writer.go at our pin).
const lostConnection = "EndpointWriter lost connection"

// normalLeaves lowers protoactor's lost-connection records of a normal
// end to debug.
type normalLeaves struct{ slog.Handler }

func (h normalLeaves) Handle(ctx context.Context, r slog.Record) error {
	if r.Level > slog.LevelDebug && r.Message == lostConnection && normalEnd(r) {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

// Enabled lets every record through to Handle, where a lowered one is
// checked again at its new level.
func (h normalLeaves) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, l) || (l >= slog.LevelWarn && h.Handler.Enabled(ctx, slog.LevelDebug))
}

func (h normalLeaves) WithAttrs(as []slog.Attr) slog.Handler {
	return normalLeaves{h.Handler.WithAttrs(as)}
}

func (h normalLeaves) WithGroup(name string) slog.Handler {
	return normalLeaves{h.Handler.WithGroup(name)}
}

// normalEnd reports whether the record's error says the stream ended
// normally: this side closed its connection (codes.Canceled: "the client
// connection is closing"), or the peer's server said goodbye first (a
// GOAWAY with NO_ERROR, which gRPC's GracefulStop sends) and then went.
func normalEnd(r slog.Record) bool {
	normal := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "error" {
			return true
		}
		err, ok := a.Value.Any().(error)
		if !ok {
			return false
		}
		s, ok := status.FromError(err)
		normal = ok && (s.Code() == codes.Canceled ||
			s.Code() == codes.Unavailable && strings.Contains(s.Message(), "received prior goaway: code: NO_ERROR"))
		return false
	})
	return normal
}
