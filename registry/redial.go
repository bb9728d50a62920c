package registry

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Connections to peers, and how the cluster registry drops one it takes
// for dead.
//
// Protoactor remote sends to a peer over one long-lived gRPC stream,
// which nothing checks. When the network between two nodes drops
// packets (a partition), TCP retransmits what is queued with a backoff
// that doubles up to 120 s, and whatever is sent later waits behind it:
// after a 30 s cut the stream comes back up to 30 s after the network
// did. And a new connection's SYNs back off the same way (1, 3, 7, 15 s).
// So a node started by StartNode:
//   - dials its peers itself (a gRPC context dialer): an attempt that
//     gets no answer is abandoned after one redial period and made again,
//     one SYN per period instead of TCP's backoff, for as long as gRPC's
//     connect timeout ([connectTimeout]) allows; a refusal (nothing
//     listens) ends the attempt at once, as before;
//   - keeps the connections it dialled, by peer address, so that
//     [Node.dropPeer] can close them: every stream on them ends at once
//     (protoactor reports the endpoint lost and forgets it), and the next
//     message to that peer dials afresh.
//
// The redial period is the shortest heartbeat interval of the node's
// clusters ([DefaultHeartbeat] without one).

// connectTimeout bounds one of protoactor's connection attempts (gRPC's
// connect deadline; its default is 20 s): within it, the node redials
// every redial period. Protoactor sleeps 2 s between attempts; a longer
// attempt makes it less likely that a partition heals during that sleep.
const connectTimeout = time.Minute

// dialOptions are the gRPC dial options a node adds first (a user's come
// after them, and a user's own dialer replaces this one).
func (n *Node) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithContextDialer(n.dial),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: connectTimeout}),
	}
}

// dialled are the connections a node dialled, by peer address.
type dialled struct {
	mu     sync.Mutex
	conns  map[string]map[*trackedConn]struct{}
	period time.Duration // redial period; 0 until a cluster sets one
	done   chan struct{} // closed by Shutdown: dials in progress give up
}

// redialPeriod is how long one dial waits for an answer before it is
// made again.
func (n *Node) redialPeriod() time.Duration {
	n.dialled.mu.Lock()
	defer n.dialled.mu.Unlock()
	if n.dialled.period == 0 {
		return DefaultHeartbeat
	}
	return n.dialled.period
}

// lowerRedialPeriod makes the redial period d if that is shorter.
func (n *Node) lowerRedialPeriod(d time.Duration) {
	n.dialled.mu.Lock()
	if n.dialled.period == 0 || d < n.dialled.period {
		n.dialled.period = d
	}
	n.dialled.mu.Unlock()
}

// dial is the node's gRPC dialer: see the comment at the top of the file.
func (n *Node) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	for {
		period := n.redialPeriod()
		next := time.Now().Add(period)
		try, cancel := context.WithDeadline(ctx, next)
		conn, err := d.DialContext(try, "tcp", addr)
		cancel()
		if err == nil {
			return n.track(addr, conn)
		}
		if ctx.Err() != nil || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, err
		}
		wait := time.NewTimer(time.Until(next))
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			return nil, err
		case <-n.dialled.done:
			wait.Stop()
			return nil, err
		}
	}
}

// track keeps conn under addr until it is closed; a node shut down
// closes it at once.
func (n *Node) track(addr string, conn net.Conn) (net.Conn, error) {
	t := &trackedConn{Conn: conn, n: n, addr: addr}
	n.dialled.mu.Lock()
	defer n.dialled.mu.Unlock()
	select {
	case <-n.dialled.done:
		_ = conn.Close()
		return nil, ErrClosed
	default:
	}
	if n.dialled.conns == nil {
		n.dialled.conns = make(map[string]map[*trackedConn]struct{})
	}
	if n.dialled.conns[addr] == nil {
		n.dialled.conns[addr] = make(map[*trackedConn]struct{})
	}
	n.dialled.conns[addr][t] = struct{}{}
	return t, nil
}

// dropPeer closes every connection this node dialled to addr: the
// streams on them end, protoactor reports the endpoint lost
// (EndpointTerminatedEvent, which every watcher of the node hears, as
// for a connection that broke) and forgets it, and the next message to
// addr dials again. It returns how many connections it closed.
func (n *Node) dropPeer(addr string) int {
	n.dialled.mu.Lock()
	conns := n.dialled.conns[addr]
	delete(n.dialled.conns, addr)
	n.dialled.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
	return len(conns)
}

// A trackedConn is a connection the node dialled.
type trackedConn struct {
	net.Conn
	n    *Node
	addr string
	once sync.Once
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		d := &t.n.dialled
		d.mu.Lock()
		delete(d.conns[t.addr], t)
		if len(d.conns[t.addr]) == 0 {
			delete(d.conns, t.addr)
		}
		d.mu.Unlock()
	})
	return t.Conn.Close()
}
