package actors

import (
	"context"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
)

// fdOpen reports whether fd is an open descriptor.
func fdOpen(fd int) bool {
	_, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	return errno == 0
}

// A loopConn closed while its reader uses the descriptor closes it only
// when that use ends: the reader never touches a number the kernel may
// have given to another socket. Without a use in flight it closes at once.
func TestLoopConnCloseWaitsForUse(t *testing.T) {
	ln, err := transport.TCP().Listen(context.Background(), "127.0.0.1:0", nil)
	require.NoError(t, err)
	defer ln.Close()
	for _, inUse := range []bool{true, false} {
		peer, err := transport.TCP().Dial(context.Background(), ln.Addr().String(), nil)
		require.NoError(t, err)
		defer peer.Close()
		sock, err := ln.Accept()
		require.NoError(t, err)
		d, err := sock.(transport.Detacher).Detach()
		require.NoError(t, err)
		l := &loopConn{d: d, fd: d.FD()}

		if inUse {
			require.True(t, l.acquire())
			require.NoError(t, l.Close())
			assert.True(t, fdOpen(l.fd), "closed under the reader's use")
			assert.False(t, l.acquire(), "a use taken after Close")
			l.release()
		} else {
			require.NoError(t, l.Close())
		}
		assert.False(t, fdOpen(l.fd), "not closed once no use is held")
		assert.NoError(t, l.Close(), "a second Close")
		assert.False(t, l.acquire())
	}
}
