package actors

import (
	"net"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/internal/hostapi"
)

// Forcing a connection's socket closed while its actor may still run. A
// deadline in the past (group.Force) interrupts a blocked socket
// operation, but a callback that does not return is in none: its peer
// would stay connected, and its owner's stop held, until the callback
// returns. forceCloseConn and group.ForceClose end the connection on the
// wire at once: the socket is shut down in both directions, so the peer
// sees the end of the stream and a read or write the actor makes
// afterwards fails, and the descriptor itself is closed by the actor as
// it ends (Terminate still runs once, when the callback returns). The
// descriptor is not closed under the actor: its number could be given
// to another socket while the actor, its reader or the event loop still
// use it.

// forceCloseConn shuts down the socket of the connection pid of sys (as its
// owner's forced stop does for each connection), reporting false if pid
// is not a live connection of this process or has no actor (a
// passivated connection is in no callback). Its owner calls it when a
// stop it asked for did not finish in time (host.ForceClose).
func forceCloseConn(sys *actor.ActorSystem, pid *actor.PID) bool {
	p := localConn(sys, pid)
	if p == nil {
		return false
	}
	return p.forceClose()
}

// ForceClose shuts down the socket of every connection of the group that
// still has an actor, after setting its deadline in the past as group.Force
// does: an owner calls it once Force has had time to take effect, for
// the connections stuck in a callback that never returns, so that their
// peers see their connections end and the owner's stop need not wait for
// them.
func (g *group) ForceClose() {
	g.conns.each(func(p *process) { p.forceClose() })
}

// forceClose interrupts and shuts down the socket of the live actor, if
// any, reporting whether there was one.
func (p *process) forceClose() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	mb := p.mb.Load()
	if mb == nil {
		return false
	}
	_ = mb.conn.sock.SetDeadline(kickTime)
	shutdownSocket(mb.conn.sock)
	return true
}

// shutdownSocket shuts sock's descriptor down for reading and writing,
// without closing it; a socket closed already is left alone.
func shutdownSocket(sock any) {
	switch s := sock.(type) {
	case *loopConn:
		// A use of the descriptor: a Close meanwhile leaves close(2) to
		// its release, so the shutdown cannot reach a reused number.
		if s.acquire() {
			_ = syscall.Shutdown(s.fd, syscall.SHUT_RDWR)
			s.release()
		}
	case interface{ NetConn() net.Conn }: // TLS: the socket under it
		shutdownSocket(s.NetConn())
	case syscall.Conn:
		// Control holds Go's reference to the descriptor, and fails once
		// it is closed.
		if rc, err := s.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
		}
	}
}

// ForceAfter forces the group's connections to end once grace has
// passed: Force then, ForceClose hostapi.ForceSettle later. An
// owner calls it as it begins to stop its connections; the function it
// returns cancels what has not run yet (call it once they have all
// ended).
func (g *group) ForceAfter(grace time.Duration) (cancel func()) {
	force := time.AfterFunc(grace, g.Force)
	forceClose := time.AfterFunc(grace+hostapi.ForceSettle, g.ForceClose)
	return func() {
		force.Stop()
		forceClose.Stop()
	}
}
