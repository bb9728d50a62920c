package actors

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/behaviours"
	"github.com/etcp-go/etcp/transport"
)

// Config is what a server, client or pool gives each of its connections.
// One Config is shared by all the connections of an owner and must not
// change once connections use it.
type Config struct {
	Socket  transport.Options  // validated socket options
	Factory behaviours.Factory // makes each connection's handler
	Arg     any                // the init argument
	Logger  *slog.Logger       // the connections' logger
	Tracer  Tracer             // nil: no tracing
	// IdleHibernate hibernates a connection idle for this long; 0 never.
	IdleHibernate time.Duration
	// ParkAfter is how long an idle reader keeps its goroutine before it
	// parks on the shared poller; 0 means DefaultParkAfter, negative never.
	ParkAfter time.Duration
	// Owner hears of connections starting and ending; nil for none.
	Owner Owner
	// Conns, if set, lists the connections while they are up.
	Conns *ConnList
	// Live counts connections whose actor or reader goroutine still runs;
	// an owner waits on it to stop without leaving goroutines.
	Live *sync.WaitGroup
}

// Owner is told when its connections start and end. Calls come from the
// connections' own goroutines, concurrently.
type Owner interface {
	// ConnUp runs after Init accepted the connection (err nil), or when it
	// failed to start (err set, ErrDeclined for a decline).
	ConnUp(info ConnInfo, err error)
	// ConnDown runs once after Terminate, with the final reason.
	ConnDown(info ConnInfo, reason error)
	// StopReason is the reason given to connections stopped because their
	// owner stops.
	StopReason() error
}

// ConnInfo identifies one connection.
type ConnInfo struct {
	ID        uint64     // unique within its server, client or pool
	PID       *actor.PID // the connection's actor
	Local     net.Addr   // the socket's local address
	Peer      net.Addr   // the peer's address
	Transport string     // the transport's name ("tcp", "tls"...)
}
