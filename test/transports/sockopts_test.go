package transports_test

import (
	"crypto/tls"
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

// optsReport is what a handler read of its socket options.
type optsReport struct {
	before, after transport.SocketOptions
	err           error
}

// optsFlipper reads its socket options in Init, flips NoDelay, sets the
// keep-alive and buffer sizes, and reads them back; a call flips NoDelay
// again at run time and replies with what it reads then.
type optsFlipper struct {
	behaviours.Base
	reports chan<- optsReport
}

var wantOpts = transport.SocketOptions{KeepAlive: 42 * time.Second, ReadBuffer: 96 << 10, WriteBuffer: 80 << 10}

func (h optsFlipper) Init(c behaviours.Conn, _ any) behaviours.Result {
	h.reports <- flip(c, wantOpts)
	return behaviours.Continue()
}

func (h optsFlipper) HandleCall(c behaviours.Conn, _ any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply(flip(c, transport.SocketOptions{}))
}

// flip reads c's options, sets them to want with NoDelay inverted (want
// zero: only NoDelay changes), and reads them again.
func flip(c behaviours.Conn, want transport.SocketOptions) optsReport {
	var r optsReport
	if r.before, r.err = c.SocketOptions(); r.err != nil {
		return r
	}
	next := r.before
	// The kernel reports buffer sizes doubled (as Linux does for
	// SO_RCVBUF): 0 keeps them as they are.
	next.ReadBuffer, next.WriteBuffer = 0, 0
	if want != (transport.SocketOptions{}) {
		next = want
	}
	next.NoDelay = !r.before.NoDelay
	if r.err = c.SetSocketOptions(next); r.err != nil {
		return r
	}
	r.after, r.err = c.SocketOptions()
	return r
}

func TestSocketOptionsFromCallbacks(t *testing.T) {
	cert := selfSigned(t)
	for _, tc := range []struct {
		name string
		tr   transport.Transport
		ctr  transport.Transport
	}{
		{"tcp", transport.TCP(), transport.TCP()},
		{"tls", transport.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}),
			transport.TLS(&tls.Config{RootCAs: certPool(cert.Leaf)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			reports := make(chan optsReport, 2)
			srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return optsFlipper{reports: reports} }, nil,
				actors.WithSocket(transport.WithTransport(tc.tr)))
			pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return optsFlipper{reports: reports} }, nil,
				actors.WithSocket(transport.WithTransport(tc.ctr)))

			for range 2 { // the server's and the client's Init
				r := testkit.Recv(t, reports)
				require.NoError(t, r.err)
				assert.True(t, r.before.NoDelay, "NoDelay by default")
				assert.Equal(t, transport.DefaultKeepAlive, r.before.KeepAlive)
				assert.False(t, r.after.NoDelay, "flipped")
				assert.Equal(t, wantOpts.KeepAlive, r.after.KeepAlive)
				assert.GreaterOrEqual(t, r.after.ReadBuffer, wantOpts.ReadBuffer)
				assert.GreaterOrEqual(t, r.after.WriteBuffer, wantOpts.WriteBuffer)
			}

			// At run time, from a call: flip NoDelay back, keep the rest.
			v, err := client.Call(testkit.Ctx(t), sys.Root, pid, "flip")
			require.NoError(t, err)
			r := v.(optsReport)
			require.NoError(t, r.err)
			assert.False(t, r.before.NoDelay)
			assert.True(t, r.after.NoDelay)
			assert.Equal(t, wantOpts.KeepAlive, r.after.KeepAlive)
			assert.Equal(t, r.before.ReadBuffer, r.after.ReadBuffer)
			assert.Equal(t, r.before.WriteBuffer, r.after.WriteBuffer)
		})
	}
}

func TestSocketOptionsUnix(t *testing.T) {
	sys := testkit.NewSystem(t)
	path := filepath.Join(t.TempDir(), "opts.sock")
	reports := make(chan optsReport, 1)
	testkit.StartServer(t, sys, path, func() behaviours.Handler { return unixOpts{reports: reports} }, nil,
		actors.WithSocket(transport.WithTransport(transport.Unix())))
	testkit.DialRaw(t, "unix", path)
	r := testkit.Recv(t, reports)
	require.NoError(t, r.err)
	assert.False(t, r.before.NoDelay, "no Nagle on a Unix socket")
	assert.GreaterOrEqual(t, r.after.ReadBuffer, 64<<10)
	assert.GreaterOrEqual(t, r.after.WriteBuffer, 64<<10)
}

type unixOpts struct {
	behaviours.Base
	reports chan<- optsReport
}

func (h unixOpts) Init(c behaviours.Conn, _ any) behaviours.Result {
	var r optsReport
	if r.before, r.err = c.SocketOptions(); r.err == nil {
		if r.err = c.SetSocketOptions(transport.SocketOptions{ReadBuffer: 64 << 10, WriteBuffer: 64 << 10}); r.err == nil {
			r.after, r.err = c.SocketOptions()
		}
	}
	h.reports <- r
	return behaviours.Continue()
}
