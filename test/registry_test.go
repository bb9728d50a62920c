package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/test/testkit"
	"github.com/etcp-go/etcp/transport"
)

// A server's connections are listed from its registry, exactly, after
// 1,000 connects and disconnects racing on 50 goroutines.
func TestRegistryListsConnectionsExactly(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", testkit.NewEcho, nil, server.WithMaxConnections(server.NoLimit))
	var (
		mu   sync.Mutex
		kept = map[string]net.Conn{} // local address -> still open
		wg   sync.WaitGroup
	)
	for w := range 50 {
		wg.Go(func() {
			for i := range 20 {
				c, err := net.Dial("tcp", srv.Addr().String())
				if !assert.NoError(t, err) {
					return
				}
				testkit.Write(t, c, "x")
				testkit.ReadN(t, c, 1)
				if (w+i)%3 == 0 {
					mu.Lock()
					kept[c.LocalAddr().String()] = c
					mu.Unlock()
					continue
				}
				assert.NoError(t, c.Close())
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range kept {
			c.Close()
		}
	})
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == len(kept) }, testkit.Wait, time.Millisecond,
		"want %d listed", len(kept))
	for _, info := range testkit.Conns(t, srv) {
		_, ok := kept[info.Peer.String()]
		assert.True(t, ok, "%v listed but closed", info.Peer)
		assert.Equal(t, "tcp", info.Transport)
		assert.Equal(t, srv.Addr().String(), info.Local.String())
	}
	// Found by peer address, at memory speed, from the system's registry.
	for addr := range kept {
		es, err := registry.Of(sys).Select(registry.ByPeer(netip.MustParseAddrPort(addr)))
		require.NoError(t, err)
		require.Len(t, es, 1, addr)
		assert.Equal(t, srv.Name(), es[0].Owner)
	}
}

// login registers its connection under the name a "login NAME" line
// gives, answers calls with its name, and reports Terminate.
type login struct {
	base
	name string
}

func (h *login) HandlePacket(c behaviours.Conn, p []byte) behaviours.Result {
	line := string(bytes.TrimSpace(p))
	switch {
	case strings.HasPrefix(line, "login "):
		h.name = strings.TrimPrefix(line, "login ")
		if err := c.Register(h.name); err != nil {
			return behaviours.Send([]byte("taken"))
		}
		return behaviours.Send([]byte("ok"))
	case line == "logout":
		if err := c.Unregister(h.name); err != nil {
			return behaviours.Send([]byte(err.Error()))
		}
		return behaviours.Send([]byte("bye"))
	case line == "panic":
		panic("boom")
	case line == "stop":
		return behaviours.Stop(nil)
	}
	return behaviours.Continue()
}

func (h *login) HandleCall(_ behaviours.Conn, _ any, _ behaviours.From) behaviours.Result {
	return behaviours.Reply(h.name)
}

// A handler names its connection after a login; client functions reach it
// by that Name; the name is released whatever ends the connection.
func TestNamesReleasedOnEveryEnd(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	srv := testkit.StartServer(t, sys, "", func() behaviours.Handler { return &login{} }, p,
		actors.WithSocket(transport.WithFramer(transport.Line())))
	ctx := testkit.Ctx(t)
	loginAs := func(name string) net.Conn {
		t.Helper()
		c := testkit.DialRaw(t, "tcp", srv.Addr().String())
		testkit.Write(t, c, "login "+name+"\n")
		require.Equal(t, "ok\n", string(testkit.ReadN(t, c, 3)))
		return c
	}
	gone := func(name string) {
		t.Helper()
		require.Eventually(t, func() bool {
			_, err := client.Call(ctx, sys.Root, client.Name(name), "who")
			return errors.Is(err, registry.ErrNotFound)
		}, testkit.Wait, time.Millisecond, "%s still registered", name)
	}
	for _, end := range []struct {
		name string
		do   func(c net.Conn, name string)
	}{
		{"peer close", func(c net.Conn, _ string) { require.NoError(t, c.Close()) }},
		{"client.Stop by name", func(_ net.Conn, name string) {
			require.NoError(t, client.Stop(ctx, sys.Root, client.Name(name), nil))
		}},
		{"handler stop", func(c net.Conn, _ string) { testkit.Write(t, c, "stop\n") }},
		{"handler panic", func(c net.Conn, _ string) { testkit.Write(t, c, "panic\n") }},
	} {
		name := "device-" + strings.ReplaceAll(end.name, " ", "-")
		c := loginAs(name)
		got, err := client.Call(ctx, sys.Root, client.Name(name), "who")
		require.NoError(t, err, end.name)
		require.Equal(t, name, got)
		end.do(c, name)
		p.terminated(t)
		gone(name)
	}

	// A name is unique: a second login under it is refused while the
	// first holds it, and free again after a logout.
	first := loginAs("dup")
	second := testkit.DialRaw(t, "tcp", srv.Addr().String())
	testkit.Write(t, second, "login dup\n")
	require.Equal(t, "taken\n", string(testkit.ReadN(t, second, 6)))
	testkit.Write(t, first, "logout\n")
	require.Equal(t, "bye\n", string(testkit.ReadN(t, first, 4)))
	testkit.Write(t, second, "login dup\n")
	require.Equal(t, "ok\n", string(testkit.ReadN(t, second, 3)))
	got, err := client.Call(ctx, sys.Root, client.Name("dup"), "who")
	require.NoError(t, err)
	require.Equal(t, "dup", got)
	assert.NoError(t, client.Cast(sys.Root, client.Name("dup"), "x"))
	assert.ErrorIs(t, client.Cast(sys.Root, client.Name("nobody"), "x"), registry.ErrNotFound)
}

// A pool connection's name goes with each incarnation: released when it
// ends, taken again by the restarted one.
func TestPoolConnectionNameAcrossRestarts(t *testing.T) {
	sys := testkit.NewSystem(t)
	sp := newProbe()
	srv := testkit.StartServer(t, sys, "", newEcho, sp)
	cp := newProbe()
	pl, err := pool.Start(sys, func() behaviours.Handler { return &namer{name: "upstream"} }, cp,
		[]string{srv.Addr().String()}, actors.WithLogger(testkit.Discard),
		pool.WithBackoff(pool.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = pl.Stop(context.Background(), nil) })
	ctx := testkit.Ctx(t)
	require.NoError(t, pl.WaitUp(ctx, 1))
	first, err := registry.Of(sys).Lookup("upstream")
	require.NoError(t, err)

	// The server side ends the connection: the pool restarts it.
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 1 }, testkit.Wait, time.Millisecond)
	require.NoError(t, client.Stop(ctx, sys.Root, testkit.Conns(t, srv)[0].PID, nil))
	require.Eventually(t, func() bool {
		e, err := registry.Of(sys).Lookup("upstream")
		return err == nil && e.PID.Id != first.PID.Id
	}, testkit.Wait, time.Millisecond, "the restarted connection holds the name")
	require.NoError(t, pl.Stop(ctx, nil))
	_, err = registry.Of(sys).Lookup("upstream")
	assert.ErrorIs(t, err, registry.ErrNotFound, "released when the pool stopped")
}

// namer registers its connection under name in Init.
type namer struct {
	base
	name string
}

func (h *namer) Init(c behaviours.Conn, arg any) behaviours.Result {
	h.bind(arg)
	if err := c.Register(h.name); err != nil {
		return behaviours.Stop(err)
	}
	return behaviours.Continue()
}

// registry.None keeps no list: Connections says so (etcp's
// no_process_registry), and the connections still work.
func TestNoRegistry(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), actors.WithRegistry(registry.None()))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, c, "still echoes")
	_, err := srv.Connections()
	require.ErrorIs(t, err, registry.ErrNoRegistry)
	assert.Equal(t, 1, srv.Info().Conns.Up, "the server still counts what it supervises")
}

// mapRegistry is a user's own registry (etcp's {via, M, T}): a map.
type mapRegistry struct {
	mu sync.Mutex
	m  map[string]registry.Entry
}

func (r *mapRegistry) Register(name string, pid *actor.PID, meta registry.Meta) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[name]; ok && e.PID.Id != pid.Id {
		return registry.ErrNameTaken
	}
	r.m[name] = registry.Entry{Name: name, PID: pid, Meta: meta}
	return nil
}

func (r *mapRegistry) Unregister(name string, pid *actor.PID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[name]; !ok || e.PID.Id != pid.Id {
		return registry.ErrNotFound
	}
	delete(r.m, name)
	return nil
}

func (r *mapRegistry) Lookup(name string) (registry.Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[name]; ok {
		return e, nil
	}
	return registry.Entry{}, registry.ErrNotFound
}

func (r *mapRegistry) Select(q registry.Query) ([]registry.Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []registry.Entry
	for _, e := range r.m {
		if q.Owner == "" || e.Owner == q.Owner {
			out = append(out, e)
		}
	}
	return out, nil
}

func (r *mapRegistry) Subscribe(func(registry.Event)) (func(), error) { return func() {}, nil }

func TestViaRegistry(t *testing.T) {
	sys := testkit.NewSystem(t)
	mine := &mapRegistry{m: map[string]registry.Entry{}}
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe(), actors.WithRegistry(mine))
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, c, "hi")
	conns := testkit.Conns(t, srv)
	require.Len(t, conns, 1)
	e, err := mine.Lookup(host.SelfName(mine, conns[0].PID))
	require.NoError(t, err, "registered in the user's registry")
	assert.Equal(t, srv.Name(), e.Owner)
	_, err = registry.Of(sys).Lookup(conns[0].PID.Id)
	assert.ErrorIs(t, err, registry.ErrNotFound, "and not in the default one")
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return len(testkit.Conns(t, srv)) == 0 }, testkit.Wait, time.Millisecond)
	mine.mu.Lock()
	assert.Empty(t, mine.m, "unregistered at the end")
	mine.mu.Unlock()
}

// A named client connection is found by its name while it lives.
func TestNamedClient(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	p := newProbe()
	pid := testkit.Dial(t, sys, srv.Addr().String(), func() behaviours.Handler { return &sink{} }, p,
		client.WithName("upstream-1"))
	p.expect(t, "init")
	require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, client.Name("upstream-1"), []byte("ping")))
	assert.Equal(t, "ping", p.expect(t, "packet").val)
	require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, pid, nil))
	_, err := registry.Of(sys).Lookup("upstream-1")
	assert.ErrorIs(t, err, registry.ErrNotFound)
}

// A named client connection is registered through the Registry
// interface, whatever implements it: a cluster's or a user's registry
// finds it under its name, on its own node, while it lives.
func TestNamedClientInAnyRegistry(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  func(t *testing.T, sys *actor.ActorSystem) registry.Registry
	}{
		{"cluster", func(t *testing.T, sys *actor.ActorSystem) registry.Registry {
			n, err := registry.StartNode(sys, registry.WithNodeLogger(testkit.Discard))
			require.NoError(t, err)
			t.Cleanup(n.Shutdown)
			c, err := registry.NewCluster(n, nil, registry.WithClusterLogger(testkit.Discard))
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			return c
		}},
		{"user's", func(*testing.T, *actor.ActorSystem) registry.Registry {
			return &mapRegistry{m: map[string]registry.Entry{}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A node must be the only protoactor remote of its process.
			if tc.name == "cluster" && testkit.OwnProcess(t, "ETCP_TEST_NAMED_CLIENT") {
				return
			}
			sys := testkit.NewSystem(t)
			reg := tc.reg(t, sys)
			registry.SetDefault(sys, reg) // where client.Name looks names up
			srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
			p := newProbe()
			pid := testkit.Dial(t, sys, srv.Addr().String(), newSink, p, client.WithName("upstream-1"))
			p.expect(t, "init")
			e, err := reg.Lookup("upstream-1")
			require.NoError(t, err, "registered under its name")
			assert.Equal(t, pid.String(), e.PID.String())
			require.NoError(t, client.SendSync(testkit.Ctx(t), sys.Root, client.Name("upstream-1"), []byte("ping")))
			assert.Equal(t, "ping", p.expect(t, "packet").val)

			// A name another PID holds is not taken over: Dial fails.
			other := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
			defer sys.Root.Stop(other)
			require.NoError(t, reg.Register("taken-1", other, registry.Meta{}))
			_, err = testkit.TryDial(t, sys, srv.Addr().String(), newSink, newProbe(), client.WithName("taken-1"))
			require.ErrorIs(t, err, registry.ErrNameTaken)
			e, err = reg.Lookup("taken-1")
			require.NoError(t, err)
			assert.Equal(t, other.String(), e.PID.String(), "still the other's")

			require.NoError(t, client.Stop(testkit.Ctx(t), sys.Root, pid, nil))
			require.Eventually(t, func() bool {
				_, err := reg.Lookup("upstream-1")
				return errors.Is(err, registry.ErrNotFound)
			}, testkit.Wait, time.Millisecond, "the name goes with the connection")
		})
	}
}

// A name cannot be kept by a registry that keeps nothing: Dial says so
// instead of dropping the name.
func TestNamedClientWithoutRegistry(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := testkit.StartServer(t, sys, "", newEcho, newProbe())
	p := newProbe()
	_, err := testkit.TryDial(t, sys, srv.Addr().String(), newSink, p, client.WithName("upstream-1"),
		actors.WithRegistry(registry.None()))
	require.ErrorIs(t, err, registry.ErrNoRegistry)
	require.ErrorIs(t, err, client.ErrInvalidOptions)
	assert.Contains(t, err.Error(), `"upstream-1"`)
	testkit.RequireEmpty(t, p.events) // no connection was started
}

// owner starts a server as its own child, as an application embedding
// etcp would; stopping it stops the server.
type owner struct {
	srv   chan *server.Server
	probe *probe
}

func (o *owner) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		srv, err := server.Start(ctx.ActorSystem(), newEcho, o.probe, "127.0.0.1:0",
			server.WithParent(ctx), server.WithAcceptors(2), actors.WithLogger(testkit.Discard))
		if err != nil {
			panic(err)
		}
		o.srv <- srv
	}
}

func TestServerEmbeddedInAnActor(t *testing.T) {
	sys := testkit.NewSystem(t)
	p := newProbe()
	o := &owner{srv: make(chan *server.Server, 1), probe: p}
	app, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return o }), "app")
	require.NoError(t, err)
	srv := testkit.Recv(t, o.srv)
	assert.True(t, strings.HasPrefix(srv.PID().Id, "app/etcp/"), "the server is the app's child: %s", srv.PID().Id)
	c := testkit.DialRaw(t, "tcp", srv.Addr().String())
	roundTrip(t, c, "embedded")

	require.NoError(t, sys.Root.StopFuture(app).Wait())
	assert.ErrorIs(t, p.terminated(t), actors.ErrShutdown, "stopping the app stops the connection")
	select {
	case <-srv.Done():
	case <-time.After(testkit.Wait):
		t.Fatal("the server did not stop with its parent")
	}
	assert.ErrorIs(t, srv.Err(), server.ErrClosed)
	requireEOF(t, c, "")
	assert.Equal(t, fmt.Sprint(server.ModeClosed), fmt.Sprint(srv.Info().Mode))
}
