package transports_test

import (
	"bufio"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

func TestUnixSocket(t *testing.T) {
	sys := testkit.NewSystem(t)
	path := filepath.Join(t.TempDir(), "etcp.sock")
	seen := make(chan tlsSeen, 4)
	srv := testkit.StartServer(t, sys, path, func() behaviours.Handler { return tlsProbe{seen: seen} }, nil,
		actors.WithSocket(transport.WithTransport(transport.Unix()), transport.WithFramer(transport.Line())))
	assert.Equal(t, path, srv.Addr().String())
	assert.Equal(t, "unix", srv.Addr().Network())

	t.Run("ClientDial", func(t *testing.T) {
		packets := make(chan string, 4)
		pid := testkit.Dial(t, sys, path, func() behaviours.Handler { return collector{packets: packets} }, nil,
			actors.WithSocket(transport.WithTransport(transport.Unix()), transport.WithFramer(transport.Line())))
		s := testkit.Recv(t, seen)
		assert.Equal(t, "unix", s.transport)
		assert.Nil(t, s.state, "no TLS state on a Unix socket")
		for _, msg := range []string{"over", "a unix", "socket"} {
			require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, pid, []byte(msg)))
			assert.Equal(t, "unix:"+msg, testkit.Recv(t, packets))
		}
		info, err := client.Describe(testkit.Ctx(t), sys.Root, pid)
		require.NoError(t, err)
		assert.Equal(t, "unix", info.Transport)
		assert.Equal(t, path, info.Peer.String())
	})

	t.Run("RawPeer", func(t *testing.T) {
		c := testkit.DialRaw(t, "unix", path)
		assert.Equal(t, "unix", testkit.Recv(t, seen).transport)
		_, err := c.Write([]byte("a\r\nb\nc\n"))
		require.NoError(t, err)
		r := bufio.NewReader(c)
		for _, want := range []string{"a", "b", "c"} {
			assert.Equal(t, want, testkit.ReadLine(t, r))
		}
	})
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 0 }, testkit.Wait, time.Millisecond,
		"both peers left: the server dropped their connections")
}
