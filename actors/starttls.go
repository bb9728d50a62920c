package actors

import (
	"bytes"

	"github.com/etcp-go/etcp/transport"
)

// readyForTLS reports whether StartTLS can go ahead: the actor owns the
// socket's reads, and no backlog is left to write (actor).
func (c *conn) readyForTLS() bool { return c.writeIdle() && c.stopReader() }

// startTLS upgrades the live socket (STARTTLS). It runs from settle, after
// the Result's packets were flushed, once the actor owns the socket (the
// reader stopped, or its read is held: stIdle, stPosted) and no backlog is
// left. Bytes the peer
// sent right behind the upgrade request (already read, so in pending) are
// the start of the handshake: they are fed to TLS first.
func (c *conn) startTLS() {
	if err := c.flush(); err != nil {
		c.terminate(err)
		return
	}
	if !c.writeIdle() {
		return // the flusher's notice, once the backlog is written, brings it back here
	}
	cfg := c.upgrade
	c.upgrade = nil
	if err := c.leaveLoop(); err != nil { // TLS reads through crypto/tls, off the event loop
		c.terminate(err)
		return
	}
	var sock transport.Conn = c.sock
	if len(c.pending) > 0 {
		sock = &prefixConn{Conn: c.sock, r: bytes.NewReader(c.pending)}
		c.pending = nil
	}
	// The reader's idle deadline must not bound the handshake.
	c.clearDeadline()
	up := transport.UpgradeTLS(sock, cfg, c.accepted)
	if err := c.handshake(up); err != nil {
		c.terminate(err)
		return
	}
	c.proc.mu.Lock() // Force reads the socket from other goroutines
	c.useSocket(up)
	c.proc.mu.Unlock()
	c.reregister()
}

// prefixConn reads some bytes already taken from the socket before
// reading the socket again.
type prefixConn struct {
	transport.Conn
	r *bytes.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if p.r.Len() > 0 {
		return p.r.Read(b)
	}
	return p.Conn.Read(b)
}
