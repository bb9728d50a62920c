package test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// Each merged sentinel is one error, whichever package's name a caller
// uses: an error wrapping any of the names matches all of them, and they
// all say the same text.
func TestOneErrorVocabulary(t *testing.T) {
	groups := map[string][]error{
		"invalid options": {transport.ErrInvalidOptions, actors.ErrInvalidOptions,
			server.ErrInvalidOptions, client.ErrInvalidOptions, pool.ErrInvalidOptions},
		"closed": {registry.ErrClosed, actors.ErrClosed, server.ErrClosed,
			pool.ErrClosed, manage.ErrClosed,
			//lint:ignore SA1019 the deprecated names must stay the one sentinel
			server.ErrServerClosed,
			//lint:ignore SA1019 the deprecated names must stay the one sentinel
			pool.ErrClosedPool},
		"name taken": {registry.ErrNameTaken, server.ErrNameTaken, pool.ErrNameTaken},
	}
	for name, g := range groups {
		t.Run(name, func(t *testing.T) {
			for i, a := range g {
				wrapped := fmt.Errorf("outer: %w", a)
				for j, b := range g {
					assert.ErrorIs(t, wrapped, b, "name %d wrapped matches name %d", i, j)
				}
				assert.Equal(t, g[0].Error(), a.Error(), "name %d", i)
			}
			assert.Equal(t, 1, strings.Count(g[0].Error(), name), g[0].Error())
		})
	}
	// The merged sentinels stay apart from one another.
	assert.NotErrorIs(t, registry.ErrClosed, registry.ErrNameTaken)
	assert.NotErrorIs(t, registry.ErrClosed, transport.ErrInvalidOptions)
	assert.NotErrorIs(t, registry.ErrNameTaken, transport.ErrInvalidOptions)
}

// requireOnce fails unless err's message holds each of subs exactly once.
func requireOnce(t *testing.T, err error, subs ...string) {
	t.Helper()
	require.Error(t, err)
	for _, s := range subs {
		assert.Equal(t, 1, strings.Count(err.Error(), s), "%q in %q", s, err.Error())
	}
}

// requireInvalidOptions checks that err says "invalid options" once and
// matches every package's ErrInvalidOptions.
func requireInvalidOptions(t *testing.T, err error, subs ...string) {
	t.Helper()
	requireOnce(t, err, append([]string{"invalid options", "etcp"}, subs...)...)
	for _, s := range []error{transport.ErrInvalidOptions, actors.ErrInvalidOptions,
		server.ErrInvalidOptions, client.ErrInvalidOptions, pool.ErrInvalidOptions} {
		assert.ErrorIs(t, err, s)
	}
}

// A bad socket option given to a server, a client or a pool goes
// through transport, actors and the owner's package, and says "invalid
// options" once (it said it three times: "etcp/server: invalid options:
// etcp: invalid options: etcp/transport: invalid options: MaxFrame -1 is
// negative").
func TestInvalidOptionsSaidOnce(t *testing.T) {
	sys := testkit.NewSystem(t)
	bad := actors.WithSocket(transport.WithMaxFrame(-1))

	_, err := server.Start(sys, testkit.NewEcho, nil, "127.0.0.1:0", bad)
	requireInvalidOptions(t, err, "MaxFrame -1 is negative")
	assert.Equal(t, "etcp: invalid options: MaxFrame -1 is negative", err.Error())

	_, err = client.Dial(testkit.Ctx(t), sys.Root, "127.0.0.1:1", testkit.NewEcho, nil, bad)
	requireInvalidOptions(t, err, "MaxFrame -1 is negative")

	_, err = pool.Start(sys, testkit.NewEcho, nil, []string{"127.0.0.1:1"}, bad)
	requireInvalidOptions(t, err, "MaxFrame -1 is negative")

	// An option of another owner, and the owner's own checks.
	_, err = server.Start(sys, testkit.NewEcho, nil, "127.0.0.1:0", pool.WithName("p"))
	requireInvalidOptions(t, err, "pool.WithName")
	_, err = client.Dial(testkit.Ctx(t), sys.Root, "127.0.0.1:1", testkit.NewEcho, nil, nil)
	requireInvalidOptions(t, err, "option 0 is nil")
	_, err = pool.Start(sys, testkit.NewEcho, nil, []string{"127.0.0.1:1"}, pool.WithStopGrace(-1))
	requireInvalidOptions(t, err, "StopGrace is negative")
	_, err = server.Start(sys, testkit.NewEcho, nil, "127.0.0.1:0", server.WithAcceptors(-1))
	requireInvalidOptions(t, err, "Acceptors -1 is negative")
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// A refused dial names its op and address once (it said "dial tcp
// 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"), from
// the transport, the client and a pool alike, and still matches
// ECONNREFUSED.
func TestDialErrorNamesTheAddressOnce(t *testing.T) {
	addr := refusedAddr(t)

	_, err := transport.TCP().Dial(testkit.Ctx(t), addr, nil)
	requireOnce(t, err, "dial tcp", addr, "etcp")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Equal(t, "etcp/transport: dial tcp "+addr+": connect: connection refused", err.Error())

	sys := testkit.NewSystem(t)
	_, err = testkit.TryDial(t, sys, addr, testkit.NewEcho, nil)
	requireOnce(t, err, "dial tcp", addr, "etcp")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)

	reasons := make(chan error, 1)
	p, err := pool.Start(sys, testkit.NewEcho, nil, []string{addr},
		actors.WithLogger(testkit.Discard),
		pool.WithExitPolicy(func(e pool.Exit) pool.Decision {
			reasons <- e.Reason
			return pool.Delete()
		}))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Stop(context.Background(), nil)) })
	err = testkit.Recv(t, reasons)
	requireOnce(t, err, "dial tcp", addr, "etcp/pool", "etcp/transport")
	assert.ErrorIs(t, err, pool.ErrStartFailed)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// A taken address names listen and the address once, and matches
// server.ErrAddrInUse and EADDRINUSE.
func TestListenErrorNamesTheAddressOnce(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", testkit.NewEcho, nil)
	addr := srv.Addr().String()
	_, err := server.Start(sys, testkit.NewEcho, nil, addr, actors.WithLogger(testkit.Discard))
	requireOnce(t, err, "listen tcp", addr, "in use", "etcp")
	assert.ErrorIs(t, err, server.ErrAddrInUse)
	assert.ErrorIs(t, err, registry.ErrAddrInUse)
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.Equal(t, "etcp/transport: listen tcp "+addr+": bind: address already in use", err.Error())
}

// A name no connection has is said once, with "not found" once.
func TestUnknownNameSaidOnce(t *testing.T) {
	sys := testkit.NewSystem(t)
	_, err := client.Call(testkit.Ctx(t), sys.Root, client.Name("nobody"), "x")
	requireOnce(t, err, `"nobody"`, "not found", "etcp")
	assert.ErrorIs(t, err, registry.ErrNotFound)
	assert.Equal(t, `etcp/registry: name not found: "nobody"`, err.Error())
}

// A taken name is registry.ErrNameTaken whether a server, a pool or a
// registry reports it.
func TestNameTakenIsOneError(t *testing.T) {
	sys := testkit.NewSystem(t)
	testkit.StartServer(t, sys, "", testkit.NewEcho, nil, server.WithName("taken"))
	_, err := server.Start(sys, testkit.NewEcho, nil, "127.0.0.1:0", server.WithName("taken"),
		actors.WithLogger(testkit.Discard))
	requireOnce(t, err, "name taken", `"taken"`)
	assert.ErrorIs(t, err, server.ErrNameTaken)
	assert.ErrorIs(t, err, pool.ErrNameTaken)
	assert.ErrorIs(t, err, registry.ErrNameTaken)

	p, err := pool.Start(sys, testkit.NewEcho, nil, nil, pool.WithName("taken-pool"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Stop(context.Background(), nil)) })
	_, err = pool.Start(sys, testkit.NewEcho, nil, nil, pool.WithName("taken-pool"))
	requireOnce(t, err, "name taken", `"taken-pool"`)
	assert.ErrorIs(t, err, pool.ErrNameTaken)
	assert.ErrorIs(t, err, server.ErrNameTaken)
	assert.ErrorIs(t, err, registry.ErrNameTaken)

	r := registry.NewLocal()
	require.NoError(t, r.Register("n", sys.NewLocalPID("one"), registry.Meta{}))
	err = r.Register("n", sys.NewLocalPID("other"), registry.Meta{})
	requireOnce(t, err, "name taken")
	assert.ErrorIs(t, err, server.ErrNameTaken)
	assert.ErrorIs(t, err, pool.ErrNameTaken)
}

// A stopped server, a stopped pool and an ended connection all report
// the one ErrClosed, naming what was closed once.
func TestClosedIsOneError(t *testing.T) {
	closed := []error{registry.ErrClosed, actors.ErrClosed, server.ErrClosed, pool.ErrClosed, manage.ErrClosed}
	requireClosed := func(t *testing.T, err error, subs ...string) {
		t.Helper()
		requireOnce(t, err, append([]string{"closed"}, subs...)...)
		for _, s := range closed {
			assert.ErrorIs(t, err, s)
		}
	}
	sys := testkit.NewSystem(t)
	ctx := testkit.Ctx(t)

	srv, err := server.Start(sys, testkit.NewEcho, nil, "127.0.0.1:0", server.WithName("closing"),
		actors.WithLogger(testkit.Discard))
	require.NoError(t, err)
	require.NoError(t, srv.Stop(ctx, nil))
	requireClosed(t, srv.Sleep(ctx), "server closing")
	requireClosed(t, srv.Err(), "server closing")

	p, err := pool.Start(sys, testkit.NewEcho, nil, nil, pool.WithName("closing-pool"))
	require.NoError(t, err)
	require.NoError(t, p.Stop(ctx, nil))
	requireClosed(t, p.WaitUp(ctx, 1), "pool closing-pool")
	requireClosed(t, p.SendSync(ctx, []byte("x")), "pool closing-pool")

	// A connection that has ended.
	echo := testkit.StartServer(t, sys, "", testkit.NewEcho, nil)
	pid, err := testkit.TryDial(t, sys, echo.Addr().String(), testkit.NewEcho, nil)
	require.NoError(t, err)
	require.NoError(t, client.Stop(ctx, sys.Root, pid, nil))
	err = client.SendSync(ctx, sys.Root, pid, []byte("x"))
	requireClosed(t, err, "connection")
	assert.Equal(t, "etcp: connection closed", err.Error())
	_, err = client.Call(ctx, sys.Root, pid, "x")
	requireClosed(t, err, "connection")
}

// Errors stay distinguishable where they must: a taken address is not
// "closed", a closed server is not "invalid options".
func TestMergedSentinelsStayApart(t *testing.T) {
	for _, tc := range []struct {
		err error
		not []error
	}{
		{fmt.Errorf("%w: x", server.ErrClosed), []error{server.ErrInvalidOptions, server.ErrNameTaken, server.ErrAddrInUse}},
		{fmt.Errorf("%w: x", server.ErrInvalidOptions), []error{server.ErrClosed, server.ErrNameTaken}},
		{fmt.Errorf("%w: x", server.ErrNameTaken), []error{server.ErrClosed, server.ErrInvalidOptions}},
	} {
		for _, n := range tc.not {
			assert.False(t, errors.Is(tc.err, n), "%v is not %v", tc.err, n)
		}
	}
}
