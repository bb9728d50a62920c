package transports_test

import (
	"bufio"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/transport"
)

func TestUnixSocket(t *testing.T) {
	sys := newSystem(t)
	path := filepath.Join(t.TempDir(), "etcp.sock")
	seen := make(chan tlsSeen, 4)
	srv := startServer(t, sys, path, func() behaviours.Handler { return tlsProbe{seen: seen} },
		server.WithSocket(transport.WithTransport(transport.Unix()), transport.WithFramer(transport.Line())))
	assert.Equal(t, path, srv.Addr().String())
	assert.Equal(t, "unix", srv.Addr().Network())

	t.Run("ClientDial", func(t *testing.T) {
		packets := make(chan string, 4)
		pid := dial(t, sys, path, func() behaviours.Handler { return collector{packets: packets} },
			client.WithSocket(transport.WithTransport(transport.Unix()), transport.WithFramer(transport.Line())))
		s := recv(t, seen)
		assert.Equal(t, "unix", s.transport)
		assert.Nil(t, s.state, "no TLS state on a Unix socket")
		for _, msg := range []string{"over", "a unix", "socket"} {
			require.NoError(t, client.SendSync(testCtx(t), sys.Root, pid, []byte(msg)))
			assert.Equal(t, "unix:"+msg, recv(t, packets))
		}
		info, err := client.Describe(testCtx(t), sys.Root, pid)
		require.NoError(t, err)
		assert.Equal(t, "unix", info.Transport)
		assert.Equal(t, path, info.Peer.String())
	})

	t.Run("RawPeer", func(t *testing.T) {
		c := dialRaw(t, "unix", path)
		assert.Equal(t, "unix", recv(t, seen).transport)
		_, err := c.Write([]byte("a\r\nb\nc\n"))
		require.NoError(t, err)
		r := bufio.NewReader(c)
		for _, want := range []string{"a", "b", "c"} {
			assert.Equal(t, want, readLine(t, r))
		}
	})
	require.Eventually(t, func() bool { return len(srv.Connections()) == 0 }, wait, time.Millisecond,
		"both peers left: the server dropped their connections")
}
