package main

import (
	"context"
)

// runChurn runs cfg.workers workers; each loops: dial s, write cfg.size
// bytes, read them back and check them, close. The figures are connections
// per second over cfg.duration, after cfg.warmup, and the server's CPU time
// over the same window per connection.
//
// The client closes first, so each connection leaves a TIME_WAIT socket on
// the client side; on loopback Linux reuses those ports (tcp_tw_reuse=2 by
// default). If ports run out anyway, dial fails with EADDRNOTAVAIL and the
// run fails with an explanation instead of hanging.
func runChurn(ctx context.Context, cfg *config, s *server) ([]float64, error) {
	pats := make([][]byte, cfg.workers)
	rbufs := make([][]byte, cfg.workers)
	for w := range pats {
		pats[w] = pattern(uint64(w)+1000, cfg.size)
		rbufs[w] = make([]byte, cfg.size)
	}
	win, err := runRate(ctx, cfg.workers, cfg.warmup, cfg.duration, cpuProbe(s.pid()), func(w int, iter int64) error {
		c, err := dial(s.addr, cfg.timeout)
		if err != nil {
			return err
		}
		err = exchange(c, message(pats[w], cfg.size, iter), rbufs[w], cfg.timeout)
		if cerr := c.Close(); err == nil && cerr != nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return nil, s.failure(err)
	}
	return []float64{win.rate, win.cpu}, nil
}
