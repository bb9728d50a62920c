package transport_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/transport"
)

func loopback(*testing.T) string { return "127.0.0.1:0" }

func socketPath(t *testing.T) string { return filepath.Join(t.TempDir(), "s.sock") }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func defaults() *transport.Options {
	o := transport.Defaults()
	return &o
}

// listen opens a listener closed when the test ends.
func listen(t *testing.T, tr transport.Transport, addr string) transport.Listener {
	t.Helper()
	ln, err := tr.Listen(testCtx(t), addr, defaults())
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// connect dials ln with tr and accepts; both ends are closed when the test
// ends and neither is handshaken.
func connect(t *testing.T, ln transport.Listener, tr transport.Transport) (client, server transport.Conn) {
	t.Helper()
	type accepted struct {
		c   transport.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	client, err := tr.Dial(testCtx(t), ln.Addr().String(), defaults())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	a := <-ch
	require.NoError(t, a.err)
	t.Cleanup(func() { a.c.Close() })
	deadline := time.Now().Add(10 * time.Second)
	require.NoError(t, client.SetDeadline(deadline))
	require.NoError(t, a.c.SetDeadline(deadline))
	return client, a.c
}

// handshakeBoth runs both handshakes at once and returns their errors.
func handshakeBoth(t *testing.T, client, server transport.Conn) (cerr, serr error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake(testCtx(t)) }()
	cerr = client.Handshake(testCtx(t))
	return cerr, <-errc
}
