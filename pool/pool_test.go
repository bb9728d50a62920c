package pool_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/test/testkit"
)

func TestConnectionsComeBackAfterServerRestart(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := startEcho(t, sys, "")
	p := startPool(t, sys, nil, []string{srv.addr, srv.addr, srv.addr})
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 3))
	require.Eventually(t, func() bool { return srv.conns() == 3 }, 5*time.Second, time.Millisecond)

	srv.stop()
	require.Eventually(t, func() bool { return p.Live() == 0 }, 5*time.Second, time.Millisecond)
	// While the server is down, the connections wait to restart or dial.
	assert.Zero(t, states(p)[pool.StateUp])
	assert.ErrorIs(t, p.SendSync(testkit.CtxTimeout(t, time.Second), []byte("x")), pool.ErrNoConnection)

	srv.start()
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 3))
	for _, c := range p.Connections() {
		assert.Equal(t, pool.StateUp, c.State)
		assert.NotNil(t, c.PID)
		assert.Positive(t, c.Restarts, "connection %d", c.ID)
	}
	require.NoError(t, p.SendSync(testkit.CtxTimeout(t, time.Second), []byte("again")))
	require.Eventually(t, func() bool { return srv.conns() == 3 }, 5*time.Second, time.Millisecond)
}

func TestDeletePolicy(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := startEcho(t, sys, "")
	var mu sync.Mutex
	var exits []pool.Exit
	p := startPool(t, sys, nil, []string{srv.addr, srv.addr}, pool.WithExitPolicy(func(x pool.Exit) pool.Decision {
		mu.Lock()
		exits = append(exits, x)
		mu.Unlock()
		return pool.Delete()
	}))
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 2))

	srv.stop()
	require.Eventually(t, func() bool { return len(p.Connections()) == 0 }, 5*time.Second, time.Millisecond)
	srv.start()
	// A connection added now comes up; the deleted ones never come back.
	id, err := p.Add(testkit.CtxTimeout(t, time.Second), srv.addr)
	require.NoError(t, err)
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 1))
	conns := p.Connections()
	require.Len(t, conns, 1)
	assert.Equal(t, id, conns[0].ID)
	assert.Equal(t, pool.ID(3), id)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, exits, 2)
	for _, x := range exits {
		assert.Equal(t, 1, x.Failures)
		assert.Positive(t, x.Uptime)
		assert.NotErrorIs(t, x.Reason, pool.ErrStartFailed)
	}
}

func TestStopPoolPolicy(t *testing.T) {
	sys := testkit.NewSystem(t)
	a := startEcho(t, sys, "")
	b := startEcho(t, sys, "")
	rec := &terms{}
	h := func() behaviours.Handler { return &client{terms: rec} }
	p, err := pool.Start(sys, h, nil, []string{a.addr, b.addr}, actors.WithSocket(lines),
		pool.WithExitPolicy(pool.Always(pool.StopPool(errBoom))))
	require.NoError(t, err)
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 2))
	require.NoError(t, p.Err())

	a.stop() // connection 1 ends: the policy stops the pool
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the pool did not stop")
	}
	assert.ErrorIs(t, p.Err(), errBoom)
	assert.Equal(t, []error{nil}, rec.get(1), "connection 1 ended normally (the server closed it)")
	assert.Equal(t, []error{errBoom}, rec.get(2), "connection 2 was stopped with the pool's reason")
	assert.Empty(t, p.Connections())
	require.Eventually(t, func() bool { return b.conns() == 0 }, 5*time.Second, time.Millisecond)
	assert.ErrorIs(t, p.SendSync(testkit.CtxTimeout(t, time.Second), []byte("x")), pool.ErrClosed)
	_, err = p.Add(testkit.CtxTimeout(t, time.Second), b.addr)
	assert.ErrorIs(t, err, pool.ErrClosed)
	require.NoError(t, p.Stop(testkit.CtxTimeout(t, time.Second), nil), "stopping a stopped pool waits for the same stop")
}

func TestAddListRemove(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := startEcho(t, sys, "")
	rec := &terms{}
	p := startPool(t, sys, func() behaviours.Handler { return &client{terms: rec} }, []string{srv.addr},
		pool.WithName("add-list-remove"))
	assert.Equal(t, "add-list-remove", p.Name())
	assert.Equal(t, "etcp/add-list-remove", p.PID().Id)

	id, err := p.Add(testkit.CtxTimeout(t, time.Second), srv.addr)
	require.NoError(t, err)
	ids, err := p.AddN(testkit.CtxTimeout(t, time.Second), srv.addr, 2)
	require.NoError(t, err)
	all := append([]pool.ID{1, id}, ids...)
	assert.Equal(t, []pool.ID{1, 2, 3, 4}, all)
	require.Len(t, p.Connections(), 4, "listed at once, while they connect")

	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 4))
	conns := p.Connections()
	require.Len(t, conns, 4)
	for i, c := range conns {
		assert.Equal(t, all[i], c.ID)
		assert.Equal(t, srv.addr, c.Addr)
		assert.Equal(t, pool.StateUp, c.State)
		require.NotNil(t, c.PID)
		assert.True(t, strings.HasPrefix(c.PID.Id, "etcp/add-list-remove/conn-"), c.PID.Id)
		assert.Equal(t, "up", c.State.String())
	}
	require.Eventually(t, func() bool { return srv.conns() == 4 }, 5*time.Second, time.Millisecond)

	require.NoError(t, p.Remove(testkit.CtxTimeout(t, 5*time.Second), 2))
	assert.Equal(t, []error{nil}, rec.get(2), "Remove ran Terminate before returning")
	assert.Len(t, p.Connections(), 3)
	assert.Equal(t, 3, p.Live())
	require.Eventually(t, func() bool { return srv.conns() == 3 }, 5*time.Second, time.Millisecond)
	assert.ErrorIs(t, p.Remove(testkit.CtxTimeout(t, time.Second), 2), pool.ErrUnknownConnection)

	_, err = p.Add(testkit.CtxTimeout(t, time.Second), "")
	assert.ErrorIs(t, err, pool.ErrInvalidOptions)
	_, err = p.AddN(testkit.CtxTimeout(t, time.Second), srv.addr, 0)
	assert.ErrorIs(t, err, pool.ErrInvalidOptions)
}

func TestRemoveWhileWaiting(t *testing.T) {
	sys := testkit.NewSystem(t)
	addr := freeAddr(t)
	p := startPool(t, sys, nil, []string{addr},
		pool.WithBackoff(pool.Backoff{Initial: time.Hour}))
	require.Eventually(t, func() bool { return states(p)[pool.StateWaiting] == 1 }, 5*time.Second, time.Millisecond)
	c := p.Connections()[0]
	assert.ErrorIs(t, c.LastExit, pool.ErrStartFailed)
	assert.Nil(t, c.PID)
	require.NoError(t, p.Remove(testkit.CtxTimeout(t, time.Second), c.ID))
	assert.Empty(t, p.Connections())
}

func TestStrategiesSpreadSends(t *testing.T) {
	const conns, perConn = 4, 50
	for _, s := range []pool.Strategy{pool.RoundRobin, pool.LeastBusy, pool.Random} {
		t.Run(s.String(), func(t *testing.T) {
			sys := testkit.NewSystem(t)
			srv := startEcho(t, sys, "")
			p := startPool(t, sys, nil, slices.Repeat([]string{srv.addr}, conns), pool.WithStrategy(s))
			require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), conns))
			for i := range conns * perConn {
				require.NoError(t, p.SendSync(testkit.CtxTimeout(t, 5*time.Second), []byte{'a' + byte(i%26)}))
			}
			require.Eventually(t, func() bool {
				total := 0
				for _, n := range srv.lineCounts() {
					total += n
				}
				return total == conns*perConn
			}, 5*time.Second, time.Millisecond)
			counts := srv.lineCounts()
			require.Len(t, counts, conns)
			for _, n := range counts {
				if s == pool.Random {
					assert.Positive(t, n, "counts %v", counts)
				} else {
					assert.Equal(t, perConn, n, "counts %v", counts)
				}
			}
		})
	}
}

func TestLeastBusyAvoidsBusyConnection(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := startEcho(t, sys, "")
	p := startPool(t, sys, nil, []string{srv.addr, srv.addr, srv.addr}, pool.WithStrategy(pool.LeastBusy))
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 3))
	busy := p.Connections()[1]
	require.True(t, p.SetInflight(busy.ID, 5))
	for range 30 {
		pid, err := p.Pick(testkit.CtxTimeout(t, time.Second))
		require.NoError(t, err)
		assert.NotEqual(t, busy.PID.Id, pid.Id)
	}
	require.True(t, p.SetInflight(busy.ID, 0))
}

func TestNoConnection(t *testing.T) {
	sys := testkit.NewSystem(t)
	addr := freeAddr(t)
	t.Run("at once", func(t *testing.T) {
		p := startPool(t, sys, nil, []string{addr})
		start := time.Now()
		assert.ErrorIs(t, p.SendSync(testkit.CtxTimeout(t, 5*time.Second), []byte("x")), pool.ErrNoConnection)
		assert.ErrorIs(t, p.SendAsync([]byte("x")), pool.ErrNoConnection)
		assert.ErrorIs(t, p.Cast("x"), pool.ErrNoConnection)
		_, err := p.Call(testkit.CtxTimeout(t, 5*time.Second), "x")
		assert.ErrorIs(t, err, pool.ErrNoConnection)
		_, err = p.Pick(testkit.CtxTimeout(t, 5*time.Second))
		assert.ErrorIs(t, err, pool.ErrNoConnection)
		assert.Less(t, time.Since(start), time.Second)
	})
	t.Run("within its wait", func(t *testing.T) {
		const wait = 100 * time.Millisecond
		p := startPool(t, sys, nil, []string{addr}, pool.WithWaitForConnection(wait))
		start := time.Now()
		assert.ErrorIs(t, p.SendSync(testkit.CtxTimeout(t, 5*time.Second), []byte("x")), pool.ErrNoConnection)
		took := time.Since(start)
		assert.GreaterOrEqual(t, took, wait)
		assert.Less(t, took, 3*time.Second)
		start = time.Now()
		assert.ErrorIs(t, p.SendAsync([]byte("x")), pool.ErrNoConnection)
		assert.GreaterOrEqual(t, time.Since(start), wait)
	})
	t.Run("context ends first", func(t *testing.T) {
		p := startPool(t, sys, nil, []string{addr}, pool.WithWaitForConnection(time.Hour))
		err := p.SendSync(testkit.CtxTimeout(t, 50*time.Millisecond), []byte("x"))
		assert.ErrorIs(t, err, pool.ErrNoConnection)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestStartWhileServerDown(t *testing.T) {
	sys := testkit.NewSystem(t)
	addr := freeAddr(t)
	p := startPool(t, sys, nil, []string{addr, addr}, pool.WithWaitForConnection(10*time.Second))
	require.Eventually(t, func() bool {
		for _, c := range p.Connections() {
			if c.Restarts == 0 || !errors.Is(c.LastExit, pool.ErrStartFailed) {
				return false
			}
		}
		return true
	}, 5*time.Second, time.Millisecond, "dials fail and are retried")
	assert.Zero(t, p.Live())

	sent := make(chan error, 1)
	go func() { sent <- p.SendSync(testkit.CtxTimeout(t, 10*time.Second), []byte("waited")) }()
	srv := startEcho(t, sys, addr)
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 2))
	require.NoError(t, <-sent, "a send waiting for a connection goes out once one is up")
	require.Eventually(t, func() bool {
		total := 0
		for _, n := range srv.lineCounts() {
			total += n
		}
		return total == 1
	}, 5*time.Second, time.Millisecond)
}

func TestFailuresCountAndStartFailed(t *testing.T) {
	sys := testkit.NewSystem(t)
	addr := freeAddr(t)
	exits := make(chan pool.Exit, 10)
	p := startPool(t, sys, nil, []string{addr}, pool.WithExitPolicy(func(x pool.Exit) pool.Decision {
		exits <- x
		if x.Failures < 3 {
			return pool.RestartAfter(time.Millisecond)
		}
		return pool.Delete()
	}))
	for want := 1; want <= 3; want++ {
		x := <-exits
		assert.Equal(t, want, x.Failures)
		assert.Equal(t, pool.ID(1), x.ID)
		assert.Equal(t, addr, x.Addr)
		assert.Zero(t, x.Uptime)
		assert.ErrorIs(t, x.Reason, pool.ErrStartFailed)
	}
	require.Eventually(t, func() bool { return len(p.Connections()) == 0 }, 5*time.Second, time.Millisecond)
}

// decliner declines every connection in Init.
type decliner struct{ behaviours.Base }

func (decliner) Init(behaviours.Conn, any) behaviours.Result { return behaviours.Decline() }

func TestInitDeclineIsAStartFailure(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := startEcho(t, sys, "")
	exits := make(chan pool.Exit, 1)
	startPool(t, sys, func() behaviours.Handler { return decliner{} }, []string{srv.addr},
		pool.WithExitPolicy(func(x pool.Exit) pool.Decision { exits <- x; return pool.Delete() }))
	x := <-exits
	assert.ErrorIs(t, x.Reason, pool.ErrStartFailed)
	assert.ErrorIs(t, x.Reason, actors.ErrDeclined)
}

func TestStopRunsTerminate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason error
		want   error
	}{
		{"with a reason", errBoom, errBoom},
		{"without", nil, actors.ErrShutdown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := testkit.NewSystem(t)
			srv := startEcho(t, sys, "")
			down := freeAddr(t)
			rec := &terms{}
			p, err := pool.Start(sys, func() behaviours.Handler { return &client{terms: rec} }, nil,
				[]string{srv.addr, srv.addr, srv.addr, down}, actors.WithSocket(lines), fast)
			require.NoError(t, err)
			require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 3))

			require.NoError(t, p.Stop(testkit.CtxTimeout(t, 10*time.Second), tc.reason))
			got := rec.all()
			require.Len(t, got, 3, "every live connection's Terminate ran before Stop returned")
			for _, r := range got {
				assert.ErrorIs(t, r, tc.want)
			}
			assert.Empty(t, p.Connections())
			assert.Zero(t, p.Live())
			assert.ErrorIs(t, p.Err(), tc.want)
			if tc.reason == nil {
				assert.ErrorIs(t, p.Err(), pool.ErrClosed)
			}
			require.Eventually(t, func() bool { return srv.conns() == 0 }, 5*time.Second, time.Millisecond)
			assert.ErrorIs(t, p.WaitUp(testkit.CtxTimeout(t, time.Second), 1), pool.ErrClosed)
			assert.ErrorIs(t, p.Remove(testkit.CtxTimeout(t, time.Second), 1), pool.ErrClosed)
		})
	}
}

func TestStoppingThePoolActorStopsThePool(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := startEcho(t, sys, "")
	rec := &terms{}
	p, err := pool.Start(sys, func() behaviours.Handler { return &client{terms: rec} }, nil,
		[]string{srv.addr}, actors.WithSocket(lines))
	require.NoError(t, err)
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 1))
	require.NoError(t, sys.Root.StopFuture(p.PID()).Wait())
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the pool did not stop")
	}
	assert.Equal(t, []error{actors.ErrShutdown}, rec.get(1))
}

func TestSendThroughPool(t *testing.T) {
	sys := testkit.NewSystem(t)
	srv := startEcho(t, sys, "")
	got := make(chan string, 10)
	p := startPool(t, sys, func() behaviours.Handler { return &client{got: got} }, []string{srv.addr, srv.addr})
	require.NoError(t, p.WaitUp(testkit.CtxTimeout(t, 5*time.Second), 2))

	require.NoError(t, p.SendSync(testkit.CtxTimeout(t, time.Second), []byte("sync")))
	assert.Equal(t, "sync", <-got)
	require.NoError(t, p.SendAsync([]byte("async")))
	assert.Equal(t, "async", <-got)
	require.NoError(t, p.Cast("ignored"))
	_, err := p.Call(testkit.CtxTimeout(t, time.Second), "unhandled")
	assert.ErrorIs(t, err, behaviours.ErrUnhandledCall)
}

func TestStartValidation(t *testing.T) {
	sys := testkit.NewSystem(t)
	h := func() behaviours.Handler { return &client{} }
	for _, tc := range []struct {
		name string
		sys  *actor.ActorSystem
		h    behaviours.Factory
		addr []string
		opts []pool.Option
	}{
		{"nil system", nil, h, nil, nil},
		{"nil factory", sys, nil, nil, nil},
		{"empty address", sys, h, []string{""}, nil},
		{"nil option", sys, h, nil, []pool.Option{nil}},
		{"nil exit policy", sys, h, nil, []pool.Option{pool.WithExitPolicy(nil)}},
		{"negative wait", sys, h, nil, []pool.Option{pool.WithWaitForConnection(-1)}},
		{"negative hibernate", sys, h, nil, []pool.Option{actors.WithIdleHibernate(-1)}},
		{"unknown strategy", sys, h, nil, []pool.Option{pool.WithStrategy(9)}},
		{"backoff max below initial", sys, h, nil, []pool.Option{pool.WithBackoff(pool.Backoff{Initial: time.Second, Max: time.Millisecond})}},
		{"backoff multiplier below 1", sys, h, nil, []pool.Option{pool.WithBackoff(pool.Backoff{Multiplier: 0.5})}},
		{"backoff jitter above 1", sys, h, nil, []pool.Option{pool.WithBackoff(pool.Backoff{Jitter: 2})}},
		{"bad socket option", sys, h, nil, []pool.Option{actors.WithSocket(nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pool.Start(tc.sys, tc.h, nil, tc.addr, tc.opts...)
			assert.ErrorIs(t, err, pool.ErrInvalidOptions)
		})
	}
	t.Run("name taken", func(t *testing.T) {
		p := startPool(t, sys, nil, nil, pool.WithName("taken"))
		_, err := pool.Start(sys, h, nil, nil, pool.WithName("taken"))
		assert.ErrorIs(t, err, pool.ErrNameTaken)
		require.NoError(t, p.Stop(testkit.CtxTimeout(t, time.Second), nil))
	})
}

func TestBackoffDelay(t *testing.T) {
	b := pool.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.2}
	for _, tc := range []struct {
		failures int
		base     time.Duration
	}{{0, 100 * time.Millisecond}, {1, 100 * time.Millisecond}, {2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond}, {5, time.Second}, {1000, time.Second}} {
		for range 20 {
			d := b.Delay(tc.failures)
			assert.LessOrEqual(t, d, tc.base, "failures %d", tc.failures)
			assert.GreaterOrEqual(t, d, tc.base*8/10, "failures %d", tc.failures)
		}
	}
	noJitter := pool.Backoff{Initial: 10 * time.Millisecond, Max: time.Second, Multiplier: 3}
	assert.Equal(t, 90*time.Millisecond, noJitter.Delay(3))
}

func TestNames(t *testing.T) {
	assert.Equal(t, "connecting", pool.StateConnecting.String())
	assert.Equal(t, "waiting", pool.StateWaiting.String())
	assert.Equal(t, "State(9)", pool.State(9).String())
	assert.Equal(t, "stop-pool", pool.ActionStopPool.String())
	assert.Equal(t, "least-busy", pool.LeastBusy.String())
	assert.Equal(t, pool.Decision{}, pool.RestartBackoff())
	assert.Equal(t, pool.Restart(), pool.RestartAfter(0))
	assert.Equal(t, pool.Decision{Action: pool.ActionRestartAfter, Delay: time.Second}, pool.RestartAfter(time.Second))
}
