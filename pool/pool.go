package pool

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/client"
)

// ID identifies one connection of a pool. It stays the same when the
// connection is restarted, and is the connection's behaviours.Conn ID.
type ID uint64

// State is where a pool connection is in its life.
type State uint8

const (
	// StateConnecting: the connection is being dialled, or its Init has
	// not run yet.
	StateConnecting State = iota
	// StateUp: Init accepted the connection; sends may pick it.
	StateUp
	// StateWaiting: the connection ended (or failed to start) and waits
	// for its restart delay to pass.
	StateWaiting
)

var stateNames = [...]string{"connecting", "up", "waiting"}

// String names the state.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// ConnInfo describes one connection of a pool.
type ConnInfo struct {
	// ID and Addr identify the connection; both stay across restarts.
	ID   ID
	Addr string
	// PID is the connection's actor; nil while it is dialled or waits to
	// restart.
	PID   *actor.PID
	State State
	// Restarts counts how many times the connection was dialled again.
	Restarts int
	// LastExit is the reason of its last exit (nil for none, or a normal
	// end).
	LastExit error
}

// Pool is a running connection pool: a supervisor actor ("etcp/<name>")
// whose children are the connection actors, one per connection, each
// restarted under the pool's [ExitPolicy]. Its methods are safe for
// concurrent use.
type Pool struct {
	sys   *actor.ActorSystem
	name  string
	pid   *actor.PID
	o     config
	conns host.Group // every connection of the pool
	log   *slog.Logger

	dials       sync.WaitGroup // dialling goroutines
	dialCtx     context.Context
	cancelDials context.CancelFunc

	snap   atomic.Pointer[[]*member] // live connections, for sends
	rr     atomic.Uint64
	closed atomic.Bool

	mu      sync.Mutex
	infos   map[ID]ConnInfo
	changed chan struct{}        // closed and replaced when snap changes
	pending map[*dialed]struct{} // dialled sockets on their way to the actor
	reason  error

	stopOnce sync.Once
	done     chan struct{}
}

// member is one live connection in the send snapshot.
type member struct {
	id       ID
	pid      *actor.PID
	inflight atomic.Int64
}

var poolSeq atomic.Uint64

// Start starts a pool in sys with one connection to each of addrs (more
// can be added with [Pool.Add]). Every connection gets a handler from
// factory and arg as its Init argument. Start does not wait for the
// connections: they are dialled in the background and, when a dial or
// start fails, retried under the pool's [ExitPolicy], so a pool starts
// even while its servers are down. Use [Pool.WaitUp] to wait for them.
func Start(sys *actor.ActorSystem, factory behaviours.Factory, arg any, addrs []string, opts ...Option) (*Pool, error) {
	if sys == nil || factory == nil {
		return nil, fmt.Errorf("%w: nil actor system or handler factory", ErrInvalidOptions)
	}
	for i, a := range addrs {
		if a == "" {
			return nil, fmt.Errorf("%w: address %d is empty", ErrInvalidOptions, i)
		}
	}
	o, err := options(opts)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("pool-%d", poolSeq.Add(1))
	}
	conns, err := host.NewGroup(sys, o.Name, &o.ConnOptions, factory, arg)
	if err != nil {
		return nil, invalidOptions(err)
	}
	conns.SetLogger(conns.Logger().With("pool", o.Name))
	p := &Pool{sys: sys, name: o.Name, o: o, conns: conns, log: conns.Logger(), infos: make(map[ID]ConnInfo),
		changed: make(chan struct{}), pending: make(map[*dialed]struct{}), done: make(chan struct{})}
	p.dialCtx, p.cancelDials = context.WithCancel(context.Background())
	ready := make(chan struct{})
	props := actor.PropsFromProducer(func() actor.Actor {
		return &supervisor{p: p, ready: ready, initial: slices.Clone(addrs), conns: make(map[ID]*entry),
			byPID: make(map[string]*entry)}
	}, actor.WithSupervisor(connSupervision))
	// The actor sets p.pid itself in Started, before it dials anything.
	var parent actor.SpawnerContext = sys.Root
	if o.Parent != nil {
		parent = o.Parent
	}
	if _, err = parent.SpawnNamed(props, "etcp/"+o.Name); err != nil {
		p.cancelDials()
		if errors.Is(err, actor.ErrNameExists) {
			return nil, fmt.Errorf("%w: %q", ErrNameTaken, o.Name)
		}
		return nil, fmt.Errorf("etcp/pool: spawn: %w", err)
	}
	<-ready
	p.log.Debug("etcp: pool started", "conns", len(addrs))
	return p, nil
}

// connSupervision stops a connection actor that failed outside its
// callbacks (the actor catches callback panics itself): restarting it
// would lose its socket.
var connSupervision = actor.NewOneForOneStrategy(0, 0,
	func(any) actor.Directive { return actor.StopDirective })

// Name is the pool's name.
func (p *Pool) Name() string { return p.name }

// PID is the pool's supervisor actor.
func (p *Pool) PID() *actor.PID { return p.pid }

// Add adds one connection to addr and returns its ID. It returns once the
// pool has taken it, without waiting for it to come up (see
// [Pool.WaitUp] and [Pool.Connections]); its dial and restarts follow
// the pool's [ExitPolicy].
func (p *Pool) Add(ctx context.Context, addr string) (ID, error) {
	ids, err := p.AddN(ctx, addr, 1)
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// AddN adds n connections to addr, like [Pool.Add].
func (p *Pool) AddN(ctx context.Context, addr string, n int) ([]ID, error) {
	if addr == "" || n < 1 {
		return nil, fmt.Errorf("%w: Add needs an address and n >= 1 (got %q, %d)", ErrInvalidOptions, addr, n)
	}
	v, err := p.request(ctx, &addConns{addr: addr, n: n})
	if err != nil {
		return nil, err
	}
	return v.([]ID), nil
}

// Remove stops the connection id (its Terminate runs with a nil reason)
// and removes it from the pool: it is not restarted. It returns once the
// connection has ended.
func (p *Pool) Remove(ctx context.Context, id ID) error {
	v, err := p.request(ctx, &removeConn{id: id})
	if err != nil {
		return err
	}
	if pid, _ := v.(*actor.PID); pid != nil {
		return client.Stop(ctx, p.sys.Root, pid, nil)
	}
	return nil
}

// request asks the pool's actor and maps a dead pool to ErrClosed.
func (p *Pool) request(ctx context.Context, msg any) (any, error) {
	if p.closed.Load() {
		return nil, fmt.Errorf("%w: pool %s", ErrClosed, p.name)
	}
	v, err := actors.Request(ctx, p.sys.Root, p.pid, msg)
	if errors.Is(err, actors.ErrClosed) {
		return nil, fmt.Errorf("%w: pool %s", ErrClosed, p.name)
	}
	return v, err
}

// Connections lists the pool's connections, by ID, with their state.
func (p *Pool) Connections() []ConnInfo {
	p.mu.Lock()
	out := make([]ConnInfo, 0, len(p.infos))
	for _, c := range p.infos {
		out = append(out, c)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b ConnInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Live is the number of connections that are up.
func (p *Pool) Live() int {
	if s := p.snap.Load(); s != nil {
		return len(*s)
	}
	return 0
}

// WaitUp waits until at least n connections are up. It fails when ctx
// ends first (with ctx's error) or the pool stops (ErrClosed).
func (p *Pool) WaitUp(ctx context.Context, n int) error {
	for {
		ch, closed := p.watch()
		if closed {
			return fmt.Errorf("%w: pool %s", ErrClosed, p.name)
		}
		if p.Live() >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("etcp/pool: %s: waiting for %d connections (%d up): %w", p.name, n, p.Live(), ctx.Err())
		}
	}
}

// watch returns a channel closed at the next change of the live set, and
// whether the pool is closed.
func (p *Pool) watch() (<-chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed, p.closed.Load()
}

// Stop stops the pool: no connection is dialled or restarted any more,
// and every connection is stopped (each one's Terminate runs, with reason,
// or actors.ErrShutdown when reason is nil). It returns when all of that
// is done and every connection goroutine has exited, or when ctx ends.
// Calling it again, or after an [ActionStopPool], waits for the same stop.
func (p *Pool) Stop(ctx context.Context, reason error) error {
	p.beginStop(reason)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("etcp/pool: stop %s: %w", p.name, ctx.Err())
	}
}

// Done is closed once the pool has stopped.
func (p *Pool) Done() <-chan struct{} { return p.done }

// Err is nil while the pool runs. Once it is stopping it is the reason it
// stops with (given to Stop or to an [ActionStopPool] decision), or
// [ErrClosed] when there was none (it also matches
// actors.ErrShutdown, the reason the connections saw).
func (p *Pool) Err() error {
	if !p.closed.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reason != nil {
		return p.reason
	}
	return errShutdown
}

var errShutdown = fmt.Errorf("%w (%w)", ErrClosed, actors.ErrShutdown)

// beginStop starts stopping the pool (once) without waiting.
func (p *Pool) beginStop(reason error) {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.reason = reason
		p.closed.Store(true)
		p.snap.Store(nil)
		close(p.changed) // wake waiting senders: they see the pool closed
		p.mu.Unlock()
		p.conns.BeginStop(reason)
		p.cancelDials()
		cancelForce := p.conns.ForceAfter(p.o.StopGrace)
		go func() {
			_ = p.sys.Root.StopFuture(p.pid).Wait()
			p.dials.Wait()
			p.mu.Lock()
			for d := range p.pending {
				d.sock.Close()
			}
			clear(p.pending)
			clear(p.infos)
			p.mu.Unlock()
			p.conns.Wait()
			cancelForce()
			p.log.Debug("etcp: pool stopped", "reason", reason)
			close(p.done)
		}()
	})
}

// Stats counts the pool's connections by state (up, reading, parked,
// hibernated, passivated).
func (p *Pool) Stats() actors.Stats { return p.conns.Stats() }
