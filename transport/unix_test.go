package transport_test

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
	"github.com/etcp-go/etcp/transport/transporttest"
)

func TestUnixConformance(t *testing.T) {
	transporttest.Run(t, transport.Unix(), socketPath)
}

func TestUnixSocketOptions(t *testing.T) {
	tr := transport.Unix()
	client, server := connect(t, listen(t, tr, socketPath(t)), tr)
	for _, c := range []transport.Conn{client, server} {
		assert.Implements(t, (*syscall.Conn)(nil), c)
		assert.Equal(t, "unix", c.Transport())
		got, err := c.SocketOptions()
		require.NoError(t, err)
		assert.False(t, got.NoDelay, "not applicable")
		assert.Zero(t, got.KeepAlive, "not applicable")
		assert.Positive(t, got.ReadBuffer)
		assert.Positive(t, got.WriteBuffer)
	}
}

func TestUnixCloseRemovesFile(t *testing.T) {
	path := socketPath(t)
	ln, err := transport.Unix().Listen(testCtx(t), path, defaults())
	require.NoError(t, err)
	assert.Equal(t, path, ln.Addr().String())
	_, err = os.Lstat(path)
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestUnixReplacesStaleSocket(t *testing.T) {
	path := socketPath(t)
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	stale.SetUnlinkOnClose(false)
	require.NoError(t, stale.Close())
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeSocket, "a stale socket file is left behind")

	tr := transport.Unix()
	ln := listen(t, tr, path)
	connect(t, ln, tr)
}

func TestUnixKeepsLiveSocket(t *testing.T) {
	path := socketPath(t)
	tr := transport.Unix()
	ln := listen(t, tr, path)
	_, err := tr.Listen(testCtx(t), path, defaults())
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	connect(t, ln, tr) // the first listener still owns the path
}

func TestUnixKeepsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-a-socket")
	require.NoError(t, os.WriteFile(path, []byte("data"), 0o600))
	_, err := transport.Unix().Listen(testCtx(t), path, defaults())
	require.Error(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "data", string(data))
}
