package main

import (
	"context"
	"fmt"
	"net"
)

// runPingPong opens cfg.conns connections to s; each connection's worker
// writes cfg.size bytes, reads them back and checks every byte, in a loop.
// The figures are total round trips per second over cfg.duration, after
// cfg.warmup, and the server's CPU time over the same window per round trip.
func runPingPong(ctx context.Context, cfg *config, s *server) ([]float64, error) {
	conns := make([]net.Conn, cfg.conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := dial(s.addr, cfg.timeout)
		if err != nil {
			return nil, s.failure(fmt.Errorf("connection %d: %w", i, err))
		}
		conns[i] = c
	}

	type state struct {
		pat, rbuf []byte
	}
	states := make([]state, len(conns))
	for i := range states {
		states[i] = state{pat: pattern(uint64(i)+1, cfg.size), rbuf: make([]byte, cfg.size)}
	}
	win, err := runRate(ctx, len(conns), cfg.warmup, cfg.duration, cpuProbe(s.pid()), func(w int, iter int64) error {
		st := &states[w]
		return exchange(conns[w], message(st.pat, cfg.size, iter), st.rbuf, cfg.timeout)
	})
	if err != nil {
		return nil, s.failure(err)
	}
	return []float64{win.rate, win.cpu}, nil
}
