package transport_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
	"github.com/etcp-go/etcp/transport/transporttest"
)

func TestTCPConformance(t *testing.T) {
	transporttest.Run(t, transport.TCP(), loopback)
}

func TestTCPSocketOptions(t *testing.T) {
	tr := transport.TCP()
	client, server := connect(t, listen(t, tr, "127.0.0.1:0"), tr)
	for _, c := range []transport.Conn{client, server} {
		got, err := c.SocketOptions()
		require.NoError(t, err)
		assert.True(t, got.NoDelay, "default NoDelay")
		assert.Equal(t, transport.DefaultKeepAlive, got.KeepAlive, "default KeepAlive")

		want := transport.SocketOptions{NoDelay: false, KeepAlive: 42 * time.Second, ReadBuffer: 32 << 10, WriteBuffer: 48 << 10}
		require.NoError(t, c.SetSocketOptions(want))
		got, err = c.SocketOptions()
		require.NoError(t, err)
		assert.False(t, got.NoDelay)
		assert.Equal(t, want.KeepAlive, got.KeepAlive)
		assert.GreaterOrEqual(t, got.ReadBuffer, want.ReadBuffer)
		assert.GreaterOrEqual(t, got.WriteBuffer, want.WriteBuffer)
	}
}

func TestTCPConnIsSyscallConn(t *testing.T) {
	tr := transport.TCP()
	client, server := connect(t, listen(t, tr, "127.0.0.1:0"), tr)
	assert.Implements(t, (*syscall.Conn)(nil), client)
	assert.Implements(t, (*syscall.Conn)(nil), server)
	assert.Equal(t, "tcp", client.Transport())
	assert.NoError(t, client.Handshake(testCtx(t)), "nothing to handshake")
}

// Options that were never validated, or none at all, get the defaults.
func TestTCPUnvalidatedOptions(t *testing.T) {
	tr := transport.TCP()
	ln, err := tr.Listen(testCtx(t), "127.0.0.1:0", nil)
	require.NoError(t, err)
	defer ln.Close()
	c, err := tr.Dial(testCtx(t), ln.Addr().String(), &transport.Options{})
	require.NoError(t, err)
	defer c.Close()
	got, err := c.SocketOptions()
	require.NoError(t, err)
	assert.True(t, got.NoDelay)

	_, err = tr.Listen(testCtx(t), "127.0.0.1:0", &transport.Options{Backlog: -1})
	assert.ErrorIs(t, err, transport.ErrInvalidOptions)
}

func TestTCPListenInUse(t *testing.T) {
	ln := listen(t, transport.TCP(), "127.0.0.1:0")
	_, err := transport.TCP().Listen(testCtx(t), ln.Addr().String(), defaults())
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
}
