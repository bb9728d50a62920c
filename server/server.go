package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/behaviours"
)

// Server is a running server: a listening socket, a supervisor actor
// ("etcp/<name>") whose children are the acceptors, and under each
// acceptor the connections it accepted. Its methods are safe for
// concurrent use.
type Server struct {
	sys       *actor.ActorSystem
	name      string
	pid       *actor.PID
	group     *acceptGroup
	acceptors []acceptorRef
	conns     *actors.Group
	stopOnce  sync.Once
	done      chan struct{}
}

type acceptorRef struct {
	a   *acceptor
	pid *actor.PID
}

// AcceptorInfo describes one acceptor.
type AcceptorInfo struct {
	ID   int        // 1 to the number of acceptors
	PID  *actor.PID // the acceptor's actor
	Mode Mode       // what it is doing now
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
	conns, err := actors.NewGroup(&o.ConnOptions, factory, arg, sys.Logger())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("server-%d", serverSeq.Add(1))
	}
	so := conns.Socket()
	ln, err := so.Transport.Listen(context.Background(), addr, so)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: %w", ErrAddrInUse, err)
		}
		return nil, err
	}
	if li, ok := factory().(behaviours.ListenIniter); ok {
		info := behaviours.ListenInfo{Name: o.Name, Addr: ln.Addr().String(), Transport: so.Transport.Name()}
		if arg, err = li.ListenInit(info, arg); err != nil {
			ln.Close()
			return nil, fmt.Errorf("%w: %w", ErrListenInit, err)
		}
	}
	s := &Server{sys: sys, name: o.Name, conns: conns, done: make(chan struct{})}
	log := conns.Logger().With("server", o.Name)
	conns.SetArg(arg)
	conns.SetLogger(log)
	s.group = &acceptGroup{listener: ln, logger: log, conns: conns}
	if o.StartAsleep {
		if err := s.group.SetSleeping(true); err != nil {
			ln.Close()
			return nil, err
		}
	}
	for i := range o.Acceptors {
		s.acceptors = append(s.acceptors, acceptorRef{a: newAcceptor(i+1, s.group)})
	}
	ready := make(chan struct{})
	props := actor.PropsFromProducer(func() actor.Actor { return &supervisor{s: s, ready: ready} },
		actor.WithSupervisor(acceptorSupervision))
	s.pid, err = sys.Root.SpawnNamed(props, "etcp/"+o.Name)
	if err != nil {
		ln.Close()
		if errors.Is(err, actor.ErrNameExists) {
			return nil, fmt.Errorf("%w: %q", ErrNameTaken, o.Name)
		}
		return nil, err
	}
	<-ready
	log.Debug("etcp: server started", "addr", ln.Addr().String(), "acceptors", o.Acceptors)
	return s, nil
}

// acceptorSupervision resumes an acceptor that failed: restarting it
// would stop the connections it supervises.
var acceptorSupervision = actor.NewOneForOneStrategy(10, time.Second,
	func(any) actor.Directive { return actor.ResumeDirective })

// supervisor is the server's root actor; it starts the acceptors.
type supervisor struct {
	s     *Server
	ready chan struct{}
}

func (v *supervisor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		for i := range v.s.acceptors {
			ref := &v.s.acceptors[i]
			ref.pid, _ = ctx.SpawnNamed(ref.a.props(), fmt.Sprintf("acceptor-%d", ref.a.id))
		}
		close(v.ready)
	}
}

// Name is the server's name.
func (s *Server) Name() string { return s.name }

// PID is the server's supervisor actor.
func (s *Server) PID() *actor.PID { return s.pid }

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.group.listener.Addr() }

// Acceptors lists the acceptors with their PIDs and modes.
func (s *Server) Acceptors() []AcceptorInfo {
	out := make([]AcceptorInfo, len(s.acceptors))
	for i, ref := range s.acceptors {
		out[i] = AcceptorInfo{ID: ref.a.id, PID: ref.pid, Mode: ref.a.Mode()}
	}
	return out
}

// Mode is the acceptors' mode, and whether they all agree; when they do
// not, [Server.Acceptors] gives each one's.
func (s *Server) Mode() (Mode, bool) {
	if len(s.acceptors) == 0 {
		return ModeSleeping, true
	}
	m := s.acceptors[0].a.Mode()
	for _, ref := range s.acceptors[1:] {
		if ref.a.Mode() != m {
			return m, false
		}
	}
	return m, true
}

// Sleep stops accepting: once it returns, no acceptor accepts until Wake.
// Open connections are untouched and the listener stays open (new peers
// wait in its backlog).
func (s *Server) Sleep(ctx context.Context) error {
	if err := s.group.SetSleeping(true); err != nil {
		return err
	}
	return s.tellAcceptors(ctx, &sleepAcceptor{})
}

// Wake starts accepting again.
func (s *Server) Wake(ctx context.Context) error {
	if err := s.group.SetSleeping(false); err != nil {
		return err
	}
	return s.tellAcceptors(ctx, &wakeAcceptor{})
}

func (s *Server) tellAcceptors(ctx context.Context, msg any) error {
	var errs []error
	for _, ref := range s.acceptors {
		if _, err := actors.Request(ctx, s.sys.Root, ref.pid, msg); err != nil {
			errs = append(errs, fmt.Errorf("acceptor %d: %w", ref.a.id, err))
		}
	}
	return errors.Join(errs...)
}

// Connections lists the live connections, by id.
func (s *Server) Connections() []actors.ConnInfo { return s.conns.List() }

// Info is a snapshot of a server, cheap enough to poll.
type Info struct {
	Name  string
	Addr  net.Addr
	Mode  Mode // the acceptors' mode when they agree (else see Acceptors)
	Conns actors.Stats
}

// Info describes the server and counts its connections by state.
func (s *Server) Info() Info {
	m, _ := s.Mode()
	return Info{Name: s.name, Addr: s.Addr(), Mode: m, Conns: s.conns.Stats()}
}

// CodeChange asks every live connection to migrate its handler state
// (Handler.CodeChange) and returns the errors joined.
func (s *Server) CodeChange(ctx context.Context, oldVersion string, extra any) error {
	var errs []error
	for _, c := range s.Connections() {
		_, err := actors.Request(ctx, s.sys.Root, c.PID, &actors.CodeChange{OldVersion: oldVersion, Extra: extra})
		if err != nil && !errors.Is(err, actors.ErrClosed) {
			errs = append(errs, fmt.Errorf("conn %d: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Stop stops the server: the listener closes, the acceptors stop, and
// every connection is stopped (each one's Terminate runs, with reason, or
// actors.ErrShutdown when reason is nil). It returns when all of that is
// done and every connection goroutine has exited, or when ctx ends.
// Calling it again waits for the same stop.
func (s *Server) Stop(ctx context.Context, reason error) error {
	s.stopOnce.Do(func() {
		s.conns.BeginStop(reason)
		s.group.listener.Close()
		go func() {
			_ = s.sys.Root.StopFuture(s.pid).Wait()
			s.conns.Wait()
			close(s.done)
		}()
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("etcp/server: stop %s: %w", s.name, ctx.Err())
	}
}

// Done is closed once the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }
