package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// idleDialers bounds the number of concurrent dials in the idle test.
const idleDialers = 64

// runIdle opens cfg.idleConns connections to s, does one echo exchange on
// each (so that all are established and served), waits cfg.idleSettle, reads
// the server's VmRSS and reports (VmRSS - VmRSS at server start) / connections
// in bytes. Then it closes the connections.
func runIdle(ctx context.Context, cfg *config, s *server) (float64, error) {
	if s.baseRSS < 0 {
		return 0, fmt.Errorf("no VmRSS for server pid %d at start (is the command a wrapper such as `go run`?)", s.pid())
	}
	conns := make([]net.Conn, cfg.idleConns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ec errorCollector
	var wg sync.WaitGroup
	next := make(chan int)
	for d := 0; d < idleDialers; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pat := pattern(uint64(d)+5000, cfg.size)
			rbuf := make([]byte, cfg.size)
			for i := range next {
				c, err := dial(s.addr, cfg.timeout)
				if err == nil {
					conns[i] = c
					err = exchange(c, message(pat, cfg.size, int64(i)), rbuf, cfg.timeout)
				}
				if err != nil {
					ec.add(fmt.Errorf("connection %d: %w", i, err))
					cancel()
				}
			}
		}()
	}
feed:
	for i := range conns {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ec.err(); err != nil {
		return 0, s.failure(err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("interrupted: %w", err)
	}
	t := time.NewTimer(cfg.idleSettle)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return 0, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if err := s.exited(); err != nil {
		return 0, err
	}
	rss, err := readRSS(s.pid())
	if err != nil {
		return 0, fmt.Errorf("reading server VmRSS: %w", err)
	}
	return float64(rss-s.baseRSS) / float64(len(conns)), nil
}
