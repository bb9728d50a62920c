package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tidwall/redcon"
)

// runRespRedcon serves the reference Redis-protocol subset (resp.go's
// store, the same commands and replies as on gnet and plain net) on
// tidwall/redcon (-resp -engine redcon), the Redis-protocol server
// library, run as its examples run it: redcon.NewServer with a handler per
// command. redcon serves each connection in a goroutine of its own, reads
// every complete command of a read, calls the handler for each, and
// flushes the replies in one write.
func runRespRedcon(addr string, stdout io.Writer, sigs <-chan os.Signal) error {
	db := newStore()
	srv := redcon.NewServer(addr,
		func(c redcon.Conn, cmd redcon.Command) {
			r := c.Context().(*redconConn)
			r.out = db.exec(r.out[:0], cmd.Args)
			c.WriteRaw(r.out)
		},
		func(c redcon.Conn) bool {
			c.SetContext(&redconConn{})
			return true
		},
		nil)
	listening := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenServeAndSignal(listening) }()
	if err := <-listening; err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "listening %s\n", srv.Addr()); err != nil {
		srv.Close()
		<-done
		return err
	}
	select {
	case <-sigs:
	case err := <-done:
		return fmt.Errorf("server stopped: %v", err)
	}
	// Close stops the listener; redcon then closes every connection.
	if err := srv.Close(); err != nil {
		return err
	}
	return <-done
}

// redconConn is a connection's reply buffer, reused from command to
// command (WriteRaw copies it into redcon's own write buffer).
type redconConn struct{ out []byte }
