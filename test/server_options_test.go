package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
)

// Issue 19: in every server option zero means the default, server.NoLimit
// means no connection limit, and a negative value fails Start with an
// error naming the option.
func TestServerOptionsZeroMeansDefault(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithAcceptors(0),
		server.WithMaxConnections(0), server.WithListeners(0), server.WithStopGrace(0))
	assert.Len(t, srv.Acceptors(), server.DefaultAcceptors)
	assert.Equal(t, server.DefaultMaxConnections, srv.Info().MaxConnections)

	none := testkit.StartServer(t, sys, "", newEcho, newProbe(), server.WithMaxConnections(server.NoLimit))
	assert.Equal(t, server.NoLimit, none.Info().MaxConnections)
	c := testkit.DialRaw(t, "tcp", none.Addr().String())
	roundTrip(t, c, "served")

	for name, opt := range map[string]server.Option{
		"Acceptors":      server.WithAcceptors(-1),
		"MaxConnections": server.WithMaxConnections(-1),
		"Listeners":      server.WithListeners(-1),
		"StopGrace":      server.WithStopGrace(-1),
	} {
		t.Run(name, func(t *testing.T) {
			srv, err := server.Start(sys, newEcho, nil, "127.0.0.1:0", opt)
			assert.Nil(t, srv)
			require.ErrorIs(t, err, server.ErrInvalidOptions)
			assert.Contains(t, err.Error(), name)
		})
	}
	_, err := server.Start(sys, newEcho, nil, "127.0.0.1:0", server.WithAcceptors(2), server.WithListeners(3))
	require.ErrorIs(t, err, server.ErrInvalidOptions, "more listeners than acceptors")
}
