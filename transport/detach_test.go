package transport_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
)

// A detached socket stays open (the peer sees no close, bytes wait in the
// kernel), reports its addresses, and attaches again as the same
// transport, keeping what the peer sent meanwhile.
func TestDetachAttach(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   transport.Transport
		addr func(*testing.T) string
	}{
		{"tcp", transport.TCP(), loopback},
		{"unix", transport.Unix(), socketPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := connect(t, listen(t, tc.tr, tc.addr(t)), tc.tr)
			local, peer := server.LocalAddr(), server.RemoteAddr()

			d, err := server.(transport.Detacher).Detach()
			require.NoError(t, err)
			require.True(t, d.Valid())
			assert.Equal(t, tc.name, d.Transport())
			gotLocal, gotPeer := d.Addrs()
			require.NotNil(t, gotLocal)
			assert.Equal(t, local.String(), gotLocal.String())
			if tc.name == "tcp" { // an unnamed Unix client has no address to compare
				require.NotNil(t, gotPeer)
				assert.Equal(t, peer.String(), gotPeer.String())
			}

			_, err = client.Write([]byte("while detached"))
			require.NoError(t, err)
			back, err := d.Attach()
			require.NoError(t, err)
			defer back.Close()
			assert.Equal(t, tc.name, back.Transport())
			buf := make([]byte, len("while detached"))
			_, err = io.ReadFull(back, buf)
			require.NoError(t, err)
			assert.Equal(t, "while detached", string(buf))

			_, err = back.Write([]byte("hi"))
			require.NoError(t, err)
			_, err = io.ReadFull(client, buf[:2])
			require.NoError(t, err)
			assert.Equal(t, "hi", string(buf[:2]))
		})
	}
}

// Closing a detached socket closes the connection: the peer reads EOF.
func TestDetachedClose(t *testing.T) {
	tr := transport.TCP()
	client, server := connect(t, listen(t, tr, "127.0.0.1:0"), tr)
	d, err := server.(transport.Detacher).Detach()
	require.NoError(t, err)
	require.NoError(t, d.Close())
	_, err = client.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)

	_, err = transport.Detached{}.Attach()
	assert.Error(t, err, "an empty Detached")
	assert.NoError(t, transport.Detached{}.Close())
}

// A detached socket's options are set and read on the bare descriptor,
// and are what the attached Conn then reports.
func TestDetachedSocketOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   transport.Transport
		addr func(*testing.T) string
		set  transport.SocketOptions
	}{
		{"tcp", transport.TCP(), loopback, transport.SocketOptions{NoDelay: false, KeepAlive: 42 * time.Second, ReadBuffer: 64 << 10, WriteBuffer: 96 << 10}},
		{"tcp-off", transport.TCP(), loopback, transport.SocketOptions{NoDelay: true}},
		{"unix", transport.Unix(), socketPath, transport.SocketOptions{ReadBuffer: 64 << 10, WriteBuffer: 96 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, server := connect(t, listen(t, tc.tr, tc.addr(t)), tc.tr)
			d, err := server.(transport.Detacher).Detach()
			require.NoError(t, err)
			require.NoError(t, d.SetSocketOptions(tc.set))
			got, err := d.SocketOptions()
			require.NoError(t, err)
			if tc.tr == transport.TCP() {
				assert.Equal(t, tc.set.NoDelay, got.NoDelay)
				assert.Equal(t, tc.set.KeepAlive, got.KeepAlive)
			}
			if tc.set.ReadBuffer > 0 { // Linux doubles what it is given, for bookkeeping
				assert.GreaterOrEqual(t, got.ReadBuffer, tc.set.ReadBuffer)
				assert.GreaterOrEqual(t, got.WriteBuffer, tc.set.WriteBuffer)
			}
			back, err := d.Attach()
			require.NoError(t, err)
			defer back.Close()
			again, err := back.SocketOptions()
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
	var empty transport.Detached
	_, err := empty.SocketOptions()
	assert.Error(t, err)
	assert.Error(t, empty.SetSocketOptions(transport.SocketOptions{}))
}
