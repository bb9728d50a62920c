package actors

import (
	"crypto/tls"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// life is where the connection's actor is in its own life. Only the
// actor reads or writes it; what other goroutines see is the state word
// (state.go).
type life uint8

const (
	lifeStarting life = iota // spawned: the handshake and Init have not run
	lifeUp                   // Init accepted the connection
	lifeDone                 // Terminate ran (or the start failed); the socket is closed
)

// conn is the actor that owns one socket: server, client and pool
// connections are all this actor. Socket reads arrive in its mailbox
// (posted inline by its reader, see reader.go), as do calls, casts,
// events and anything else; it runs the handler's callbacks one at a
// time and applies the Results they return (apply.go). Which goroutine
// may touch which field is set by the connection's state (state.go and
// the package doc); unmarked fields are the actor's.
//
// conn also implements [behaviours.Conn], the metadata every callback
// sees.
type conn struct {
	mb       mailbox // first: the hot fields sit together
	g        *group
	proc     *process // its registry entry and state word; outlives passivation
	sock     transport.Conn
	raw      syscall.RawConn // set when reads can park without a buffer
	readFn   func(uintptr) bool
	handler  behaviours.Handler
	ctx      actor.Context
	self     *actor.PID
	notify   *actor.PID // hears ConnUp and (unless upOnly) ConnDown; nil for none
	names    []string   // names the handler registered (see register.go)
	id       uint64
	ev       readEvent     // the read in flight: the reader's until posted, then the actor's
	consumed chan struct{} // made by the reader before it first waits (stWaiting)
	pending  []byte        // bytes read but not yet delivered
	activeN  int32         // frames left before turning passive; 0 = no limit
	recvN    int32
	scan     transport.ScanState
	upgrade  *tls.Config // a StartTLS waiting for the reader to stop
	refs     atomic.Int32

	// The write side (write.go, flusher.go): the actor's buffer for this
	// turn, the part of it already counted in the write queue (Sends),
	// and the outbox, made by the first backlog or reply that waits for
	// its bytes.
	out       *[]byte
	outCredit int
	ob        *outbox

	// The reader's own (reader.go, state.go): it arms the idle deadline.
	readsSinceArm uint8 // saturates: only whether reads came matters
	deadlineArmed bool
	parkShift     uint8         // the idle deadline is ParkAfter << parkShift (see armDeadline)
	watching      bool          // the event loop: its watch (pollKey) is registered; the reader's, or the actor's once it took the registration back
	readerGen     atomic.Uint32 // bumped when a posted read is released to idle: its reader is done (awaitRelease)
	pollKey       atomic.Uint64 // the reader's registration (a poll.Key): written before stParked; the actor reads it through parkedKey

	// The idle timeout, the passive read timeout (timeout.go) and
	// hibernation (hibernate.go).
	idle         time.Duration // < 0: none
	lastArrival  time.Duration // as time.Since(epoch)
	idleGen      uint64
	idleTimer    *time.Timer
	recvDeadline time.Duration // as time.Since(epoch), while recvTimed
	recvTimer    *time.Timer
	hibTimer     *time.Timer

	from   behaviours.From // the call being handled
	endErr error           // the reason the connection ended with
	tracer Tracer
	log    *slog.Logger

	life           life
	accepted       bool // server side: StartTLS acts as a TLS server
	passive        bool
	recvWant       bool
	recvTimed      bool
	hibernated     bool
	hibernateNext  bool
	upNotified     bool // the owner heard ConnUp(nil), so it hears ConnDown
	upOnly         bool // notify hears ConnUp only (a client's start)
	resumed        bool // re-spawned after a passivation: Init ran before
	watched        bool // someone watches the actor: it never passivates
	toldOver       bool // the handler heard Writability false and not yet true
	noBackPressure bool // the handler turned back-pressure off (SetBackPressure)
	inRead         bool // in the turn of a posted read (receiveRead), whose bytes are taken
	onLoop         bool // the turn runs on the shared poller's goroutine (eventloop.go); the mailbox's runner's
	drained        bool // the event loop: the last read came short, so a new edge announces new bytes (the reader's)
}

// newConn prepares the actor for a connected socket.
func newConn(g *group, sock transport.Conn, id uint64, accepted bool, notify *actor.PID, upOnly bool) *conn {
	c := &conn{g: g, id: id, accepted: accepted, notify: notify, upOnly: upOnly, passive: g.socket.Passive,
		noBackPressure: g.writeQueue.NoBackPressure, idle: behaviours.Never, tracer: g.tracer,
		proc: &process{id: id, g: g}}
	c.proc.passive.Store(c.passive)
	c.mb.conn = c
	c.useSocket(sock)
	c.refs.Store(1)
	g.live.Add(1)
	g.conns.add(c.proc)
	if g.metrics != nil {
		g.metrics.track(g)
	}
	g.armSweep()
	return c
}

// props returns Props that spawn c (one spawn only).
func (c *conn) props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return c },
		actor.WithMailbox(c.mailbox), actor.WithSpawnFunc(c.spawn))
}

func (c *conn) mailbox() actor.Mailbox { return &c.mb }

// abandon releases a conn that was never spawned: it closes the socket.
func (c *conn) abandon() {
	c.sock.Close()
	c.g.ended(c.proc)
	c.unref()
}

// useSocket switches the connection to sock, choosing how it is read
// (actor only, while it owns the socket's read side).
func (c *conn) useSocket(sock transport.Conn) {
	c.sock, c.raw = sock, nil
	if sc, ok := sock.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.raw = rc
			if c.readFn == nil {
				c.readFn = c.rawRead
			}
		}
	}
}

// info describes the connection.
func (c *conn) info() ConnInfo {
	return ConnInfo{ID: c.id, PID: c.self, Local: c.sock.LocalAddr(), Peer: c.sock.RemoteAddr(),
		Transport: c.sock.Transport()}
}
