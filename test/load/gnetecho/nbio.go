package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

// runNbio is the echo server on nbio (-engine nbio), the event-loop
// library known for many connections on little memory, run as nbio's own
// examples run it: nbio.Config with only the network and address, so its
// defaults hold (NumCPU/4 pollers, at least one, unless -pollers says how
// many; level-triggered epoll; reads in the poller goroutine into one
// 64 KiB buffer per poller, and OnData called there; a write nbio cannot
// finish at once is queued on the connection). Its log lines go to
// stderr: nbio logs to stdout by default, and stdout's first line belongs
// to the contract.
func runNbio(addr string, pollers int, stdout, stderr io.Writer, sigs <-chan os.Signal) error {
	logging.Output = stderr
	eng := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{addr}, NPoller: pollers})
	eng.OnData(func(c *nbio.Conn, data []byte) {
		if _, err := c.Write(data); err != nil {
			c.Close()
		}
	})
	if err := eng.Start(); err != nil {
		return err
	}
	// Start replaces each address with the bound one (port 0 resolved).
	if _, err := fmt.Fprintf(stdout, "listening %s\n", eng.Addrs[0]); err != nil {
		eng.Stop()
		return err
	}
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}
