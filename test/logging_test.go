package test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/test/testkit"
)

// reasonStopper ends its connection with errBye at the first packet.
type reasonStopper struct{ behaviours.Base }

func (reasonStopper) HandlePacket(behaviours.Conn, []byte) behaviours.Result {
	return behaviours.Stop(errBye)
}

// TestEndLogged: a connection that ends with a reason logs it at debug
// level, tagged with the connection's id and peer, when the logger logs
// that level, and logs nothing when it does not.
func TestEndLogged(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			sys := testkit.NewSystem(t)
			var out testkit.LockedBuffer
			l := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: level}))
			srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return reasonStopper{} }, nil, actors.WithLogger(l))
			c := testkit.DialRaw(t, "tcp", srv.Addr().String())
			peer := c.LocalAddr().String()
			testkit.Write(t, c, "x")
			_, err := c.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF, "the server closes the connection")
			require.NoError(t, srv.WaitConnections(testkit.Ctx(t), func(n int) bool { return n == 0 }))
			logged := out.String()
			if level == slog.LevelDebug {
				assert.Contains(t, logged, `msg="etcp: connection ended"`)
				assert.Contains(t, logged, "reason=bye")
				assert.Contains(t, logged, "conn=1 ")
				assert.Contains(t, logged, "peer="+peer)
			} else {
				assert.NotContains(t, logged, "connection ended")
			}
		})
	}
}
