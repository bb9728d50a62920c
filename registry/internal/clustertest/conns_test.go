package clustertest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/registry/internal/nodetest"
)

// A device's connection on node A, named after its login, is found by
// that name on node B and called, cast and sent infos from there (protoactor remote,
// etcp.conn.v1 messages); its name goes everywhere when it ends.
func TestCallByNameFromAnotherNode(t *testing.T) {
	start := func(peers ...string) (p *nodetest.Proc, node, srv string) {
		p = nodetest.Start(t, "conns", envPeers+"="+strings.Join(peers, ","))
		f := strings.Fields(p.First)
		require.Len(t, f, 3, p.First)
		require.Equal(t, "ready", f[0], p.First)
		return p, f[1], f[2]
	}
	a, aNode, aSrv := start()
	b, _, _ := start(aNode)
	t.Cleanup(func() {
		b.Quit(10 * time.Second)
		a.Quit(10 * time.Second)
	})

	dev, err := net.DialTimeout("tcp", aSrv, 5*time.Second)
	require.NoError(t, err)
	defer dev.Close()
	require.NoError(t, dev.SetDeadline(time.Now().Add(20*time.Second)))
	r := bufio.NewReader(dev)
	_, err = dev.Write([]byte("login device-42\n"))
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ok\n", line)

	require.Equal(t, "ok", b.Do("await device-42 3000"), "the name reached node B")
	assert.Equal(t, "ok "+aNode, b.Do("where device-42"), "held by node A")
	assert.Equal(t, "ok device-42:hello", b.Do("call device-42 hello"), "called from node B")
	require.Equal(t, "ok", b.Do("cast device-42 ping"))
	line, err = r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "cast ping\n", line, "cast from node B reached the device")
	for _, typ := range []string{"string", "bytes"} { // as Cast and Event carry them
		require.Equal(t, "ok", b.Do("info device-42 "+typ+" pong"))
		line, err = r.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "info "+typ+" pong\n", line, "an info from node B reached the device as a %s", typ)
	}
	assert.Contains(t, b.Do("call nobody x"), "not found")

	require.NoError(t, dev.Close())
	assert.Equal(t, "gone", b.Do("awaitgone device-42 3000"), "released on every node when the connection ends")
	assert.Contains(t, b.Do("call device-42 hello"), "not found")
}
