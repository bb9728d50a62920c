package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// holdWorkers bounds the concurrent dials and exchanges of the hold test.
const holdWorkers = 200

// runHold opens cfg.holdConns connections to s (holdWorkers at a time), does
// one echo exchange on each, reads the server's settled VmRSS (settledRSS),
// then does one more echo exchange on every connection (holdWorkers at a
// time, each with the -timeout deadline). Values: connections that answered
// the second exchange, and (VmRSS - VmRSS at server start) / connections in
// bytes. Any connection that does not answer fails the run (a *checkError:
// the figures are still reported). With a server that hibernates its
// connections (examples/echo -hibernate) this checks that every hibernated
// connection wakes up and answers. s is a fresh server (figure.fresh).
//
// All connections go to one server port. Linux picks a connect()ed socket's
// ephemeral port per destination, so -hold-conns must fit in
// net.ipv4.ip_local_port_range; when it does not (or with -hold-sources) the
// connections are spread over the source addresses 127.0.0.1, 127.0.0.2, ...
// (all of 127/8 is loopback), each with the whole port range.
func runHold(ctx context.Context, cfg *config, s *server) ([]float64, error) {
	if s.baseRSS < 0 {
		return nil, fmt.Errorf("no VmRSS for server pid %d at start (is the command a wrapper such as `go run`?)", s.pid())
	}
	n := cfg.holdConns
	sources, err := holdSources(n, cfg.holdSources)
	if err != nil {
		return nil, err
	}
	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	pats := make([][]byte, holdWorkers)
	rbufs := make([][]byte, holdWorkers)
	for w := range pats {
		pats[w] = pattern(uint64(w)+9000, cfg.size)
		rbufs[w] = make([]byte, cfg.size)
	}

	// Open every connection; any failure here fails the run.
	t0 := time.Now()
	_, err = forEachConn(ctx, n, holdWorkers, true, func(w, i int) error {
		var local *net.TCPAddr
		if len(sources) > 0 {
			local = sources[i%len(sources)]
		}
		c, err := dialFrom(s.addr, local, cfg.timeout)
		if err != nil {
			return err
		}
		conns[i] = c
		return exchange(c, message(pats[w], cfg.size, int64(i)), rbufs[w], cfg.timeout)
	})
	if err != nil {
		return nil, s.failure(err)
	}
	opened := time.Since(t0)

	rss, settle, err := settledRSS(ctx, cfg, s)
	if err != nil {
		return nil, err
	}
	perConn := float64(rss-s.baseRSS) / float64(n)

	// Every connection must still answer; count those that do not.
	t1 := time.Now()
	failed, err := forEachConn(ctx, n, holdWorkers, false, func(w, i int) error {
		if err := s.exited(); err != nil {
			return err
		}
		return exchange(conns[i], message(pats[w], cfg.size, int64(i)+1), rbufs[w], cfg.timeout)
	})
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("interrupted: %w", ctxErr)
	}
	answered := n - failed
	src := "127.0.0.1"
	if len(sources) > 1 {
		src = fmt.Sprintf("%d source addresses %s..%s", len(sources), sources[0].IP, sources[len(sources)-1].IP)
	}
	fmt.Fprintf(cfg.log, "hold %s: opened %d connections from %s in %v; VmRSS %+.1f MiB since start (%s); %d answered in %v\n",
		s.name, n, src, opened.Round(time.Millisecond), float64(rss-s.baseRSS)/(1<<20), settle, answered, time.Since(t1).Round(time.Millisecond))
	vals := []float64{float64(answered), perConn}
	if failed > 0 {
		return vals, &checkError{fmt.Errorf("%d of %d held connections did not answer; %w", failed, n, s.failure(err))}
	}
	return vals, nil
}

// forEachConn calls fn(w, i) for every i in [0, n) on workers goroutines (w
// is the worker). With stopOnErr the first error stops the feed. It returns
// the number of calls that failed and an error describing them.
func forEachConn(ctx context.Context, n, workers int, stopOnErr bool, fn func(w, i int) error) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ec errorCollector
	var failed atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(w, i); err != nil {
					failed.Add(1)
					ec.add(fmt.Errorf("connection %d: %w", i, err))
					if stopOnErr {
						cancel()
					}
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return int(failed.Load()), ec.err()
}

// holdSources returns the local addresses to dial n connections from: nil
// (the kernel's choice, 127.0.0.1) when n fits in the ephemeral port range
// with a quarter to spare, else 127.0.0.1, 127.0.0.2, ... as many as needed.
// force > 0 uses that many sources regardless.
func holdSources(n, force int) ([]*net.TCPAddr, error) {
	k := force
	if k <= 0 {
		lo, hi, err := localPortRange()
		if err != nil {
			return nil, nil // unknown: let the kernel choose, dial errors explain
		}
		usable := (hi - lo + 1) * 3 / 4
		if usable < 1 {
			usable = 1
		}
		if n <= usable {
			return nil, nil
		}
		k = (n + usable - 1) / usable
	}
	if k > 254 {
		return nil, fmt.Errorf("-hold-conns %d needs %d source addresses (127.0.0.1-254 available)", n, k)
	}
	out := make([]*net.TCPAddr, k)
	for i := range out {
		out[i] = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
	}
	return out, nil
}

// localPortRange reads net.ipv4.ip_local_port_range.
func localPortRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, errors.New("odd ip_local_port_range")
	}
	if lo, err = strconv.Atoi(f[0]); err != nil {
		return 0, 0, err
	}
	if hi, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, errors.New("odd ip_local_port_range")
	}
	return lo, hi, nil
}
