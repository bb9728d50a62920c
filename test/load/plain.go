package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// servePlain is the baseline: a plain net echo server with one goroutine per
// connection, each looping Read then Write on a 4 KiB buffer. It prints
// `listening ADDR` first and returns nil on SIGTERM or SIGINT after closing
// the listener and every connection.
func servePlain(addr string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)

	if _, err := fmt.Fprintf(stdout, "listening %s\n", ln.Addr()); err != nil {
		ln.Close()
		return err
	}

	var (
		mu     sync.Mutex
		conns  = map[net.Conn]struct{}{}
		closed bool
		wg     sync.WaitGroup
	)
	acceptErr := make(chan error, 1)
	go func() {
		var backoff time.Duration
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					acceptErr <- nil
					return
				}
				// Temporary failures such as EMFILE: back off and retry.
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) ||
					errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
					backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
					time.Sleep(backoff)
					continue
				}
				acceptErr <- err
				return
			}
			backoff = 0
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				continue
			}
			conns[c] = struct{}{}
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				echoPlain(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()

	var runErr error
	select {
	case <-sigs:
	case runErr = <-acceptErr:
	}
	ln.Close()
	mu.Lock()
	closed = true
	for c := range conns {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
	return runErr
}

// echoPlain copies everything read from c back to c until an error.
func echoPlain(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
