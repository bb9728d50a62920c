package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"time"
)

// idleDialers bounds the number of concurrent dials in the idle test.
const idleDialers = 64

// runIdle opens cfg.idleConns connections to s, does one echo exchange on
// each (so that all are established and served), reads the settled VmRSS of
// the server (settledRSS) and reports (VmRSS - VmRSS at server start) /
// connections in bytes. Then it closes the connections. s is a fresh server
// (figure.fresh), so the baseline holds nothing of earlier measurements.
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
	rss, settle, err := settledRSS(ctx, cfg, s)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(cfg.log, "idle %s: %d connections; VmRSS %+.1f MiB since start (%s)\n",
		s.name, len(conns), float64(rss-s.baseRSS)/(1<<20), settle)
	return float64(rss-s.baseRSS) / float64(len(conns)), nil
}

// VmRSS settling: after -idle-settle, settledRSS samples every
// rssSampleEvery until two consecutive samples differ by less than
// rssStableFrac (of the later one), for at most rssSettleMax.
const (
	rssSampleEvery = 100 * time.Millisecond
	rssStableFrac  = 0.01
	rssSettleMax   = 3 * time.Second
)

// settledRSS waits cfg.idleSettle, then samples the VmRSS of s until it is
// stable (see rssStableFrac) or rssSettleMax has passed, and returns the
// last sample with a note for the progress log.
func settledRSS(ctx context.Context, cfg *config, s *server) (int64, string, error) {
	if err := sleepCtx(ctx, cfg.idleSettle); err != nil {
		return 0, "", err
	}
	read := func() (int64, error) {
		if err := s.exited(); err != nil {
			return 0, err
		}
		rss, err := readRSS(s.pid())
		if err != nil {
			return 0, fmt.Errorf("reading server VmRSS: %w", err)
		}
		return rss, nil
	}
	return sampleStable(ctx, read, rssSampleEvery, rssStableFrac, rssSettleMax)
}

// sampleStable calls read every interval until two consecutive values differ
// by less than frac of the later one, or until limit has passed since the
// first call; it returns the last value and a note saying which.
func sampleStable(ctx context.Context, read func() (int64, error), interval time.Duration, frac float64, limit time.Duration) (int64, string, error) {
	t0 := time.Now()
	prev, err := read()
	if err != nil {
		return 0, "", err
	}
	for n := 2; ; n++ {
		if err := sleepCtx(ctx, interval); err != nil {
			return 0, "", err
		}
		cur, err := read()
		if err != nil {
			return 0, "", err
		}
		waited := time.Since(t0).Round(time.Millisecond)
		if math.Abs(float64(cur-prev)) < frac*math.Abs(float64(cur)) {
			return cur, fmt.Sprintf("stable after %d samples, %v", n, waited), nil
		}
		if waited >= limit {
			return cur, fmt.Sprintf("NOT stable within %v: last step %+.1f%%", waited, 100*float64(cur-prev)/float64(max(cur, 1))), nil
		}
		prev = cur
	}
}

// sleepCtx sleeps d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
}
