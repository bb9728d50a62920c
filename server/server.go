package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// Server is a running server: listening sockets, a supervisor actor
// ("etcp/<name>") whose children are the connection supervisors and the
// acceptors, and under each connection supervisor its share of the
// connections (connection id modulo the number of supervisors). Its
// methods are safe for concurrent use.
type Server struct {
	sys       *actor.ActorSystem
	name      string
	pid       *actor.PID
	opts      config
	log       *slog.Logger
	listening listening
	acceptors []acceptorRef
	sups      []atomic.Pointer[actor.PID] // connection supervisors, by acceptor
	conns     host.Group
	slots     slots
	nextID    atomic.Uint64
	deadSub   *eventstream.Subscription

	accepted, terminated, rejected                 atomic.Int64
	acceptorRestarts, supRestarts, listenerReopens atomic.Int64
	acceptErrs                                     acceptErrors
	alarms                                         []*alarm
	waiters                                        atomic.Int32 // WaitConnections calls under way

	mu      sync.Mutex
	changed chan struct{} // made by WaitConnections, closed when the connection count changes
	err     error         // why the server stopped

	stopOnce sync.Once
	done     chan struct{}
}

type acceptorRef struct {
	pid      atomic.Pointer[actor.PID] // nil while it restarts
	restarts atomic.Int64
}

// AcceptorInfo describes one acceptor.
type AcceptorInfo struct {
	ID       int        // 1 to the number of acceptors
	PID      *actor.PID // the acceptor's actor; nil while it restarts
	Mode     Mode       // the server's mode, or ModeClosed while it restarts
	Restarts int64      // times this acceptor was restarted after it stopped or failed
}

var serverSeq atomic.Uint64

// Start opens a listening socket on addr (port 0 picks a free port; read
// it back with [Server.Addr]) and starts the acceptors. Every accepted
// connection gets a handler from factory, and arg as its Init argument
// (unless the handler's ListenInit replaces it). A taken address returns
// an error matching [ErrAddrInUse] and syscall.EADDRINUSE.
func Start(sys *actor.ActorSystem, factory behaviours.Factory, arg any, addr string, opts ...Option) (*Server, error) {
	if sys == nil || factory == nil {
		return nil, fmt.Errorf("%w: nil actor system or handler factory", ErrInvalidOptions)
	}
	o, err := options(opts)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("server-%d", serverSeq.Add(1))
	}
	conns, err := host.NewGroup(sys, o.Name, &o.ConnOptions, factory, arg)
	if err != nil {
		return nil, invalidOptions(err)
	}
	s := &Server{sys: sys, name: o.Name, opts: o, conns: conns,
		done: make(chan struct{}), log: conns.Logger().With("server", o.Name)}
	s.slots.root = sys.Root
	for _, a := range o.Alarms {
		s.alarms = append(s.alarms, &alarm{Alarm: a, s: s})
	}
	s.slots.setLimit(int64(o.MaxConnections))
	if err := s.listen(addr); err != nil {
		return nil, err
	}
	if li, ok := factory().(behaviours.ListenIniter); ok {
		info := behaviours.ListenInfo{Name: o.Name, Addr: s.Addr().String(), Transport: s.listening.so.Transport.Name()}
		if arg, err = li.ListenInit(info, arg); err != nil {
			s.listening.close()
			return nil, fmt.Errorf("%w: %w", ErrListenInit, err)
		}
	}
	conns.SetArg(arg)
	conns.SetLogger(s.log)
	conns.SetOnEnd(s.connEnded)
	if o.StartAsleep {
		s.listening.setMode(ModeAccepting, ModeSleeping)
	}
	s.acceptors = make([]acceptorRef, o.Acceptors)
	s.sups = make([]atomic.Pointer[actor.PID], o.Acceptors)
	s.deadSub = sys.EventStream.Subscribe(s.onDeadLetter)
	ready := make(chan struct{})
	props := actor.PropsFromProducer(func() actor.Actor {
		return &supervisor{s: s, ready: ready, backoff: map[int]time.Duration{}}
	}, actor.WithSupervisor(childSupervision))
	parent := o.Parent
	if parent == nil {
		parent = sys.Root
	}
	// The supervisor sets s.pid as it starts, before anything of the
	// server runs: a write here would race with a stop the server makes
	// itself (Server.fail), which reads it from the supervisor's side.
	if _, err = parent.SpawnNamed(props, "etcp/"+o.Name); err != nil {
		sys.EventStream.Unsubscribe(s.deadSub)
		s.listening.close()
		if errors.Is(err, actor.ErrNameExists) {
			return nil, fmt.Errorf("%w: %q", ErrNameTaken, o.Name)
		}
		return nil, err
	}
	<-ready
	s.log.Debug("etcp: server started", "addr", s.Addr().String(), "acceptors", o.Acceptors)
	return s, nil
}

// listen opens the listening sockets: one, or Listeners sharing the
// address with SO_REUSEPORT.
func (s *Server) listen(addr string) error {
	so := s.conns.Socket()
	if s.opts.Listeners > 1 {
		so.ReusePort = true
	}
	s.listening.so = so
	s.listening.lns = make([]atomic.Pointer[listener], s.opts.Listeners)
	for i := range s.opts.Listeners {
		ln, err := so.Transport.Listen(context.Background(), addr, so)
		if err != nil {
			s.listening.close()
			if errors.Is(err, syscall.EADDRINUSE) {
				return addrInUse{err}
			}
			return err
		}
		s.listening.lns[i].Store(&listener{Listener: ln})
		if i == 0 {
			addr = ln.Addr().String() // port 0: the others share the port the first got
			s.listening.addr = addr
		}
	}
	return nil
}

// handOff gives an accepted socket to a connection supervisor, chosen by
// the connection's id modulo their number (or, while that one restarts,
// the next), so that connections spread evenly over the supervisors
// whichever acceptor accepted them: Go serialises Accept on a listening
// socket, and one acceptor may take most of a burst.
func (s *Server) handOff(sock transport.Conn) {
	id := s.nextID.Add(1)
	i := int(id % uint64(len(s.sups)))
	for j := range s.sups {
		if pid := s.sups[(i+j)%len(s.sups)].Load(); pid != nil {
			s.sys.Root.Send(pid, newHandoff(sock, id))
			return
		}
	}
	s.refuse(sock)
}

// refuse closes an accepted socket that could not become a connection
// (its connection supervisor stopped as it was handed over). It counts as
// a connection that ended, so that Info adds up, its slot is freed and
// WaitConnections sees it go.
func (s *Server) refuse(sock transport.Conn) {
	sock.Close()
	s.connEnded(true)
}

// onDeadLetter refuses a socket whose connection supervisor died as it
// was handed over.
func (s *Server) onDeadLetter(ev any) {
	if dl, ok := ev.(*actor.DeadLetterEvent); ok {
		if h, ok := dl.Message.(*handoff); ok && s.ownsSup(dl.PID) {
			s.refuse(h.sock)
		}
	}
}

// ownsSup reports whether pid is (was) one of s's connection supervisors.
func (s *Server) ownsSup(pid *actor.PID) bool {
	return pid != nil && len(pid.Id) > len(s.pid.Id) && pid.Id[:len(s.pid.Id)+1] == s.pid.Id+"/"
}

// connEnded runs as every connection ends: it frees its slot, unless it
// was removed from the count (RemoveConnection), and wakes
// WaitConnections, if any waits.
func (s *Server) connEnded(counted bool) {
	s.terminated.Add(1)
	if counted {
		s.slots.give()
	}
	s.countChanged()
}

// countChanged wakes the WaitConnections calls under way, after the
// count of connections changed (one accepted, or ended).
func (s *Server) countChanged() {
	if len(s.alarms) > 0 {
		n := s.active()
		for _, a := range s.alarms {
			a.countChanged(n)
		}
	}
	if s.waiters.Load() == 0 {
		return // the accept path pays one load when nobody waits
	}
	s.mu.Lock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
}

// active is the number of connections accepted and not yet ended.
func (s *Server) active() int { return int(s.accepted.Load() - s.terminated.Load()) }

// tickAcceptors sends every acceptor a tick: the mode changed, or its
// listener was reopened.
func (s *Server) tickAcceptors() {
	for i := range s.acceptors {
		if pid := s.acceptors[i].pid.Load(); pid != nil {
			s.sys.Root.Send(pid, tick)
		}
	}
}

// Name is the server's name.
func (s *Server) Name() string { return s.name }

// PID is the server's supervisor actor.
func (s *Server) PID() *actor.PID { return s.pid }

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.listening.ln(0).Addr() }

// Acceptors lists the acceptors with their PIDs and modes.
func (s *Server) Acceptors() []AcceptorInfo {
	out := make([]AcceptorInfo, len(s.acceptors))
	m := s.listening.Mode()
	for i := range s.acceptors {
		out[i] = AcceptorInfo{ID: i + 1, PID: s.acceptors[i].pid.Load(), Mode: m,
			Restarts: s.acceptors[i].restarts.Load()}
		if out[i].PID == nil {
			out[i].Mode = ModeClosed
		}
	}
	return out
}

// Mode is the acceptors' mode, and whether they all agree (false while
// one restarts; [Server.Acceptors] gives each one's). It answers at once.
func (s *Server) Mode() (Mode, bool) {
	m := s.listening.Mode()
	for i := range s.acceptors {
		if s.acceptors[i].pid.Load() == nil && m != ModeClosed {
			return m, false
		}
	}
	return m, true
}

// Sleep stops accepting: once it returns, no acceptor accepts until Wake.
// Open connections are untouched and the listener stays open (new peers
// wait in its backlog). It answers at once, whatever the acceptors are
// doing; ctx is for symmetry with the calls that wait.
func (s *Server) Sleep(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.listening.setMode(ModeAccepting, ModeSleeping) || s.listening.Mode() == ModeSleeping {
		return nil
	}
	return fmt.Errorf("%w: server %s", ErrClosed, s.name)
}

// Wake starts accepting again, at once.
func (s *Server) Wake(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.listening.setMode(ModeSleeping, ModeAccepting) {
		s.tickAcceptors()
		return nil
	}
	if s.listening.Mode() == ModeAccepting {
		return nil
	}
	return fmt.Errorf("%w: server %s", ErrClosed, s.name)
}

// Connections lists the live connections, by id, from the server's
// registry (passivated ones included, without waking them). A server
// started with registry.None() keeps no list: the error matches
// registry.ErrNoRegistry.
func (s *Server) Connections() ([]actors.ConnInfo, error) { return s.conns.Connections() }

// ConnStats describes every connection that is up: its state, its
// traffic and when it was last active, read without waking any.
func (s *Server) ConnStats() []actors.ConnStats { return s.conns.ConnStats() }

// EachConnStats walks the connections that are up without building a
// list, as host.Group.EachConnStats: fn gets each one's statistics in a
// reused value until it returns false, and unless full the fields read
// from the registry (Local, Peer, Transport) are left out, which is what
// lets a supervisor rank 100,000 connections quickly, by any other column.
func (s *Server) EachConnStats(full bool, fn func(*actors.ConnStats) bool) {
	s.conns.EachConnStats(full, fn)
}

// Info is a snapshot of a server (ranch's info), cheap enough to poll.
type Info struct {
	Name           string
	Addr           net.Addr
	Mode           Mode
	MaxConnections int   // NoLimit: none
	Active         int   // connections accepted and not yet ended
	Counted        int   // of those, the ones counted against MaxConnections (see RemoveConnection)
	Accepted       int64 // since start
	Terminated     int64 // connections ended since start
	Rejected       int64 // closed at once over the limit (WithRejectOverLimit)
	// HandshakeFailures counts the transport handshakes (TLS, StartTLS
	// upgrades included) that failed or timed out: peers that sent
	// garbage or a plain-TCP hello, or said nothing.
	HandshakeFailures int64
	// AcceptorRestarts counts acceptors restarted after they stopped or
	// failed; ConnsRestarts connection supervisors; ListenerReopens
	// listening sockets reopened after they died.
	AcceptorRestarts, ConnsRestarts, ListenerReopens int64
	// Conns counts the connections that are up by state.
	Conns actors.Stats
}

// Info describes the server and counts its connections.
func (s *Server) Info() Info {
	return Info{Name: s.name, Addr: s.Addr(), Mode: s.listening.Mode(),
		MaxConnections: int(s.slots.limit.Load()), Active: int(s.accepted.Load() - s.terminated.Load()),
		Counted:  s.slots.count(),
		Accepted: s.accepted.Load(), Terminated: s.terminated.Load(), Rejected: s.rejected.Load(),
		HandshakeFailures: s.conns.HandshakeFailures(),
		AcceptorRestarts:  s.acceptorRestarts.Load(), ConnsRestarts: s.supRestarts.Load(),
		ListenerReopens: s.listenerReopens.Load(), Conns: s.conns.Stats()}
}

// SetMaxConnections changes the connection limit at run time ([NoLimit]:
// none). A higher limit admits waiting peers at once; a lower one is
// never overshot: the connections already open above it stay, and none
// is admitted until fewer than n are counted. 0 also means none here,
// for now (the management protocol's wire 0 means none; with
// [WithMaxConnections] 0 means the default), and a negative n is refused.
func (s *Server) SetMaxConnections(n int) error {
	if n < 0 {
		return fmt.Errorf("%w: MaxConnections %d is negative (server.NoLimit: none)", ErrInvalidOptions, n)
	}
	if n == 0 {
		n = NoLimit
	}
	s.slots.setLimit(int64(n))
	return nil
}

// WaitConnections waits until cond holds for the number of connections
// accepted and not yet ended (ranch's wait_for_connections), or ctx ends.
func (s *Server) WaitConnections(ctx context.Context, cond func(n int) bool) error {
	// Counted before the count is read: a change either sees the waiter
	// and wakes it, or happened before the read.
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	for {
		s.mu.Lock()
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		if cond(int(s.accepted.Load() - s.terminated.Load())) {
			return nil
		}
		select {
		case <-ch:
		case <-s.done:
			if cond(0) {
				return nil
			}
			return fmt.Errorf("%w: server %s", ErrClosed, s.name)
		case <-ctx.Done():
			return fmt.Errorf("etcp/server: wait for connections of %s: %w", s.name, ctx.Err())
		}
	}
}

// CodeChange asks every live connection to migrate its handler state
// (Handler.CodeChange) and returns the errors joined.
func (s *Server) CodeChange(ctx context.Context, oldVersion string, extra any) error {
	var errs []error
	conns, err := s.Connections()
	if err != nil {
		return err
	}
	for _, c := range conns {
		_, err := actors.Request(ctx, s.sys.Root, c.PID, &actors.CodeChange{OldVersion: oldVersion, Extra: extra})
		if err != nil && !errors.Is(err, actors.ErrClosed) {
			errs = append(errs, fmt.Errorf("conn %d: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Shutdown stops the server gracefully: the acceptors sleep (the port
// stops accepting, new peers wait in the backlog), the connections are
// left to finish; when ctx ends, what is left is stopped as by Stop
// (reason ErrShutdown). It returns once the server has stopped, or at
// the latest the stop grace plus 2 × host.ForceSettle (400 ms) after ctx
// ended, whatever the handlers do: a connection whose callback never
// returns has its socket shut down then (see Stop), and Done is closed
// once its callback returns and its Terminate has run. As net/http's
// Shutdown, it returns nil when every connection ended on its own before
// ctx did, and an error wrapping ctx's error (saying how many
// connections were still open) when some had to be stopped.
func (s *Server) Shutdown(ctx context.Context) error {
	_ = s.Sleep(context.Background())
	var left int
	waitErr := s.WaitConnections(ctx, func(n int) bool { left = n; return n == 0 })
	// Bounded: a connection whose callback never returns has its socket
	// shut down after the stop grace and host.ForceSettle, and is not waited
	// for longer than host.ForceSettle more.
	stopCtx, cancel := context.WithTimeout(context.Background(), s.opts.StopGrace+2*host.ForceSettle)
	defer cancel()
	stopErr := s.Stop(stopCtx, nil)
	if stopErr != nil && stopCtx.Err() != nil {
		stopErr = fmt.Errorf("etcp/server: shutdown %s: %s still in a callback after the stop grace "+
			"(sockets shut down; Done is closed once the callbacks return): %w", s.name, connCount(s.Info().Active), stopCtx.Err())
	}
	if waitErr != nil && ctx.Err() != nil {
		return errors.Join(fmt.Errorf("etcp/server: shutdown %s: stopped %s still open when the grace ended: %w",
			s.name, connCount(left), ctx.Err()), stopErr)
	}
	return stopErr
}

// connCount is "1 connection" or "n connections".
func connCount(n int) string {
	if n == 1 {
		return "1 connection"
	}
	return strconv.Itoa(n) + " connections"
}

// Stop stops the server: the listeners close, the acceptors stop, and
// every connection is stopped (each one's Terminate runs, with reason, or
// actors.ErrShutdown when reason is nil). A connection still blocked in
// a write or handshake after the stop grace (WithStopGrace) has its
// socket interrupted, so no peer can hold Stop up; one still alive
// host.ForceSettle (200 ms) later, in a callback that does not return, has
// its socket shut down, so its peer sees the connection end, and its
// Terminate runs when the callback returns. It returns when all of
// that is done and every connection goroutine has exited, or when ctx
// ends. Calling it again waits for the same stop.
func (s *Server) Stop(ctx context.Context, reason error) error {
	s.stop(reason, nil)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("etcp/server: stop %s: %w", s.name, ctx.Err())
	}
}

// fail stops a server that cannot go on (its listener died for good).
func (s *Server) fail(err error) { s.stop(nil, err) }

// stop stops the server once: the listeners close, the connections are
// told why, and the supervisor's stop (the whole tree, unless its parent
// stopped it already) is awaited in the background; connections still
// blocked after the stop grace are forced, and those still alive
// host.ForceSettle later have their sockets shut down.
func (s *Server) stop(reason, cause error) {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.err = cause
		if s.err == nil {
			s.err = fmt.Errorf("%w: server %s", ErrClosed, s.name)
		}
		s.mu.Unlock()
		s.conns.BeginStop(reason)
		s.listening.close()
		for _, a := range s.alarms {
			a.off()
		}
		cancelForce := s.conns.ForceAfter(s.opts.StopGrace)
		go func() {
			_ = s.sys.Root.StopFuture(s.pid).Wait()
			s.conns.Wait()
			cancelForce()
			s.sys.EventStream.Unsubscribe(s.deadSub)
			close(s.done)
		}()
	})
}

// Done is closed once the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is nil while the server runs. Once it is stopping it says why:
// ErrClosed after Stop or Shutdown, or the error that stopped it
// (a listener that died and could not be reopened).
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}
