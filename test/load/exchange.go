package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Helpers shared by the tests: message patterns, one echo exchange with
// deadlines and byte verification, dialling, and the timed worker loop.

// maxIters bounds every worker loop by count as well as by time.
const maxIters = 1 << 40

// pattern returns size+256 pseudo-random bytes; message i is
// p[i%256 : i%256+size], so consecutive messages differ.
func pattern(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	p := make([]byte, size+256)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func message(p []byte, size int, iter int64) []byte {
	off := int(iter % 256)
	return p[off : off+size]
}

// mismatchError reports echoed bytes that differ from the bytes sent.
type mismatchError struct {
	wrong     int // wrong bytes in the message
	offset    int // first wrong byte
	got, want byte
}

func (e *mismatchError) Error() string {
	return fmt.Sprintf("echo mismatch: %d wrong byte(s), first at offset %d: got 0x%02x, want 0x%02x",
		e.wrong, e.offset, e.got, e.want)
}

// exchange writes msg to c and reads len(msg) bytes back into rbuf, with a
// deadline of timeout on the whole exchange, and checks every byte.
func exchange(c net.Conn, msg, rbuf []byte, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	rbuf = rbuf[:len(msg)]
	if n, err := io.ReadFull(c, rbuf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read: server closed the connection after %d of %d bytes", n, len(msg))
		}
		return fmt.Errorf("read (%d of %d bytes): %w", n, len(msg), err)
	}
	if bytes.Equal(msg, rbuf) {
		return nil
	}
	e := &mismatchError{offset: -1}
	for i := range msg {
		if msg[i] != rbuf[i] {
			if e.offset < 0 {
				e.offset, e.got, e.want = i, rbuf[i], msg[i]
			}
			e.wrong++
		}
	}
	return e
}

// dial connects to addr with a timeout. It does not take the run's context:
// a dial that has started completes (or times out) on its own.
func dial(addr string, timeout time.Duration) (net.Conn, error) {
	return dialFrom(addr, nil, timeout)
}

// dialFrom is dial from the local address local (nil: the kernel's choice).
func dialFrom(addr string, local *net.TCPAddr, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if local != nil {
		d.LocalAddr = local
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, explainDialError(err)
	}
	return c, nil
}

// explainDialError adds a hint to errors caused by ephemeral port exhaustion.
func explainDialError(err error) error {
	if !errors.Is(err, syscall.EADDRNOTAVAIL) {
		return fmt.Errorf("dial: %w", err)
	}
	return fmt.Errorf("dial: %w: ephemeral ports on 127.0.0.1 exhausted (connections in TIME_WAIT?); "+
		"net.ipv4.ip_local_port_range=%s net.ipv4.tcp_tw_reuse=%s; lower -duration, -workers, -idle-conns or "+
		"-hold-conns, or wait for TIME_WAIT (60s) to drain", err,
		sysctl("/proc/sys/net/ipv4/ip_local_port_range"), sysctl("/proc/sys/net/ipv4/tcp_tw_reuse"))
}

func sysctl(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b)), "-")
}

// paddedCounter avoids false sharing between workers' counters.
type paddedCounter struct {
	n atomic.Int64
	_ [56]byte
}

// errorCollector keeps the first error and counts all of them.
type errorCollector struct {
	mu    sync.Mutex
	first error
	count int
	wrong int // wrong bytes over all mismatches
}

func (ec *errorCollector) add(err error) {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if ec.first == nil {
		ec.first = err
	}
	ec.count++
	var me *mismatchError
	if errors.As(err, &me) {
		ec.wrong += me.wrong
	}
}

func (ec *errorCollector) err() error {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if ec.first == nil {
		return nil
	}
	if ec.wrong > 0 {
		return fmt.Errorf("%d wrong echoed byte(s) in %d failed exchange(s); first: %w", ec.wrong, ec.count, ec.first)
	}
	if ec.count > 1 {
		return fmt.Errorf("%d errors; first: %w", ec.count, ec.first)
	}
	return ec.first
}

// window is what runRate measured over its measurement window.
type window struct {
	rate float64 // steps per second
	cpu  float64 // server CPU µs per step; NaN if unknown
}

// runRate runs n workers, each calling step(w, iter) in a loop, for warmup
// and then dur, and returns the number of steps per second completed during
// dur and, if cpu is not nil, the server CPU time cpu reports used over the
// same window per step. Any step error stops all workers and fails the
// measurement; workers finish the step they are in (bounded by the step's
// own deadlines).
func runRate(parent context.Context, n int, warmup, dur time.Duration, cpu func() (time.Duration, error),
	step func(w int, iter int64) error) (window, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	counters := make([]paddedCounter, n)
	var ec errorCollector
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for iter := int64(0); iter < maxIters && ctx.Err() == nil; iter++ {
				if err := step(w, iter); err != nil {
					ec.add(fmt.Errorf("worker %d, step %d: %w", w, iter, err))
					cancel()
					return
				}
				counters[w].n.Add(1)
			}
		}()
	}
	sum := func() int64 {
		var s int64
		for i := range counters {
			s += counters[i].n.Load()
		}
		return s
	}
	readCPU := func() time.Duration {
		if cpu == nil {
			return -1
		}
		v, err := cpu()
		if err != nil {
			return -1
		}
		return v
	}
	sleep := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	sleep(warmup)
	c0, t0, cpu0 := sum(), time.Now(), readCPU()
	sleep(dur)
	c1, t1, cpu1 := sum(), time.Now(), readCPU()
	cancel()
	wg.Wait()
	if err := ec.err(); err != nil {
		return window{}, err
	}
	if err := parent.Err(); err != nil {
		return window{}, fmt.Errorf("interrupted: %w", err)
	}
	if t1.Sub(t0) <= 0 {
		return window{}, errors.New("empty measurement window")
	}
	w := window{rate: float64(c1-c0) / t1.Sub(t0).Seconds(), cpu: nan}
	if cpu0 >= 0 && cpu1 >= 0 {
		w.cpu = perOp(cpu1-cpu0, c1-c0)
	}
	return w, nil
}
