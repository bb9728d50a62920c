package manage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// Servers, acceptors and pools: what they are, and the server actions.

func (e *Endpoint) serverPB(s *server.Server) *managepb.Server {
	info := s.Info()
	_, uniform := s.Mode()
	out := &managepb.Server{Node: e.node.Address(), Name: info.Name, Mode: info.Mode.String(), Uniform: uniform,
		MaxConnections: int64(info.MaxConnections), Active: int64(info.Active), Accepted: info.Accepted,
		Terminated: info.Terminated, Rejected: info.Rejected, AcceptorRestarts: info.AcceptorRestarts,
		ConnsRestarts: info.ConnsRestarts, ListenerReopens: info.ListenerReopens, Conns: counts(info.Conns),
		Acceptors: int32(len(s.Acceptors()))}
	if info.Addr != nil {
		out.Addr = info.Addr.String()
	}
	if err := s.Err(); err != nil {
		out.Err = err.Error()
	}
	return out
}

func (e *Endpoint) listServers(ctx context.Context, m *managepb.ListServers) (*managepb.ServerList, error) {
	out := &managepb.ServerList{}
	for _, s := range e.serverList() {
		out.Servers = append(out.Servers, e.serverPB(s))
	}
	if m.Cluster {
		for _, r := range e.fanOut(ctx, &managepb.ListServers{}) {
			if r.err != nil {
				out.Errors = append(out.Errors, r.nodeError())
				continue
			}
			out.Servers = append(out.Servers, r.reply.(*managepb.ServerList).Servers...)
		}
	}
	return out, nil
}

func (e *Endpoint) listAcceptors(m *managepb.ListAcceptors) (*managepb.AcceptorList, error) {
	s, err := e.server(m.Server)
	if err != nil {
		return nil, err
	}
	out := &managepb.AcceptorList{}
	for _, a := range s.Acceptors() {
		pa := &managepb.Acceptor{Id: int32(a.ID), Mode: a.Mode.String(), Restarts: a.Restarts}
		if a.PID != nil {
			pa.Pid = a.PID.Id
		}
		out.Acceptors = append(out.Acceptors, pa)
	}
	return out, nil
}

func (e *Endpoint) poolPB(p *pool.Pool) *managepb.Pool {
	out := &managepb.Pool{Node: e.node.Address(), Name: p.Name(), Live: int64(p.Live()), Conns: counts(p.Stats())}
	for i, c := range p.Connections() {
		if i == MaxLimit {
			break // a reply stays well under gRPC's 4 MB
		}
		pc := &managepb.PoolConn{Id: uint64(c.ID), Addr: c.Addr, State: c.State.String(), Restarts: int64(c.Restarts)}
		if c.PID != nil {
			pc.Pid = c.PID.Id
		}
		if c.LastExit != nil {
			pc.LastExit = c.LastExit.Error()
		}
		out.Connections = append(out.Connections, pc)
	}
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			out.Err = err.Error()
		}
	default:
	}
	return out
}

func (e *Endpoint) listPools(ctx context.Context, m *managepb.ListPools) (*managepb.PoolList, error) {
	out := &managepb.PoolList{}
	for _, p := range e.poolList() {
		out.Pools = append(out.Pools, e.poolPB(p))
	}
	if m.Cluster {
		for _, r := range e.fanOut(ctx, &managepb.ListPools{}) {
			if r.err != nil {
				out.Errors = append(out.Errors, r.nodeError())
				continue
			}
			out.Pools = append(out.Pools, r.reply.(*managepb.PoolList).Pools...)
		}
	}
	return out, nil
}

func (e *Endpoint) sleepServer(ctx context.Context, name string) (*managepb.Ok, error) {
	s, err := e.server(name)
	if err != nil {
		return nil, err
	}
	if err := s.Sleep(ctx); err != nil {
		return nil, err
	}
	return &managepb.Ok{}, nil
}

func (e *Endpoint) wakeServer(ctx context.Context, name string) (*managepb.Ok, error) {
	s, err := e.server(name)
	if err != nil {
		return nil, err
	}
	if err := s.Wake(ctx); err != nil {
		return nil, err
	}
	return &managepb.Ok{}, nil
}

func (e *Endpoint) setMax(m *managepb.SetMaxConnections) (*managepb.Ok, error) {
	s, err := e.server(m.Server)
	if err != nil {
		return nil, err
	}
	if m.Max < 0 {
		return nil, fmt.Errorf("%w: connection limit %d", ErrInvalid, m.Max)
	}
	if err := s.SetMaxConnections(int(m.Max)); err != nil {
		return nil, err
	}
	return &managepb.Ok{}, nil
}

func (e *Endpoint) stopServer(ctx context.Context, m *managepb.StopServer) (*managepb.Ok, error) {
	s, err := e.server(m.Server)
	if err != nil {
		return nil, err
	}
	var reason error
	if m.Reason != "" {
		reason = errors.New(m.Reason)
	}
	if err := s.Stop(ctx, reason); err != nil {
		return nil, err
	}
	return &managepb.Ok{}, nil
}

// defaultProgress is how often a drain reports by default.
const defaultProgress = 100 * time.Millisecond

// drain puts the server to sleep and answers; a goroutine then waits for
// its connections to end, reporting to the subscriber, and stops the
// server once they have or the grace has passed (server.Shutdown, with
// progress).
func (e *Endpoint) drain(m *managepb.DrainServer) (*managepb.Ok, error) {
	s, err := e.server(m.Server)
	if err != nil {
		return nil, err
	}
	if m.SubscriberAddress == "" || m.SubscriberId == "" {
		return nil, fmt.Errorf("%w: a drain needs a subscriber", ErrInvalid)
	}
	if err := s.Sleep(e.ctx); err != nil {
		return nil, err
	}
	sub := e.pidOf(m.SubscriberAddress, m.SubscriberId)
	grace := time.Duration(m.GraceMs) * time.Millisecond
	every := time.Duration(m.ProgressMs) * time.Millisecond
	if every <= 0 {
		every = defaultProgress
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.drainLoop(s, sub, grace, every)
	}()
	return &managepb.Ok{}, nil
}

func (e *Endpoint) drainLoop(s *server.Server, sub *actor.PID, grace, every time.Duration) {
	start := time.Now()
	deadline := start.Add(grace)
	report := func(p *managepb.DrainProgress) {
		p.Server, p.ElapsedMs = s.Name(), time.Since(start).Milliseconds()
		e.sys.Root.Send(sub, p)
	}
	forced := false
	for {
		wait := min(every, time.Until(deadline))
		ctx, cancel := context.WithTimeout(e.ctx, max(wait, 0))
		err := s.WaitConnections(ctx, func(n int) bool { return n == 0 })
		cancel()
		if err == nil {
			break
		}
		if e.ctx.Err() != nil || !time.Now().Before(deadline) {
			forced = true
			break
		}
		report(&managepb.DrainProgress{Active: int64(s.Info().Active)})
	}
	stop, cancel := context.WithTimeout(context.Background(), requestTimeout)
	err := s.Stop(stop, nil)
	cancel()
	final := &managepb.DrainProgress{Active: int64(s.Info().Active), Done: true, Forced: forced}
	if err != nil {
		final.Error = err.Error()
	}
	report(final)
}
