package actors

import (
	"fmt"
	"net"

	"net/netip"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/internal/hostapi"
	"github.com/etcp-go/etcp/registry"
)

// Every connection is registered in its group's registry while it lives:
// under its PID's id, with its owner, id, addresses, transport and start
// time, so that its owner lists it (Server.Connections) and anyone finds
// it by peer address. Its handler may add names of its own (Conn.Register,
// say after a login); all go when the connection ends, whatever ends it.

func (g *group) selfName(pid *actor.PID) string { return hostapi.SelfName(g.reg, pid) }

// registerSelf registers the connection under its own name (actor, as
// Init accepted it), and under its group's alias: an alias it cannot
// have (held by another connection, here or on another node) is the
// start's error.
func (c *conn) registerSelf() error {
	m := c.meta()
	c.proc.started.Store(m.Started.UnixNano())
	if err := c.g.reg.Register(c.g.selfName(c.self), c.self, m); err != nil {
		c.Logger().Warn("etcp: registering the connection failed", "err", err)
	}
	// The alias is the actor's own name, which is the registration name
	// only in a Local registry (see SelfName): any other needs it too.
	if a := c.g.alias; a != "" && a != c.g.selfName(c.self) {
		if err := c.Register(a); err != nil {
			return fmt.Errorf("etcp: registering the connection as %q: %w", a, err)
		}
	}
	return nil
}

// meta describes the connection for the registry.
func (c *conn) meta() registry.Meta {
	return registry.Meta{Owner: c.g.owner, ConnID: c.id, Peer: addrPort(c.sock.RemoteAddr()),
		Local: addrPort(c.sock.LocalAddr()), Transport: c.sock.Transport(), Started: time.Now()}
}

// addrPort is a TCP address as the registry keeps it (zero for others).
func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// unregisterAll removes the connection's names as it ends.
func (c *conn) unregisterAll() {
	if c.self == nil {
		return
	}
	_ = c.g.reg.Unregister(c.g.selfName(c.self), c.self)
	for _, name := range c.names {
		_ = c.g.reg.Unregister(name, c.self)
	}
	c.names = nil
}

// Register registers the connection under name in its registry, too
// (for example once a login packet said who the peer is); the name goes
// when the connection ends. A name held by another PID fails with an
// error matching registry.ErrNameTaken.
func (c *conn) Register(name string) error {
	if err := c.g.reg.Register(name, c.self, c.meta()); err != nil {
		return err
	}
	if !slices.Contains(c.names, name) {
		c.names = append(c.names, name)
	}
	return nil
}

// Unregister removes a name the connection registered.
func (c *conn) Unregister(name string) error {
	i := slices.Index(c.names, name)
	if i < 0 {
		return fmt.Errorf("%w: the connection holds no name %q", registry.ErrNotFound, name)
	}
	c.names = slices.Delete(c.names, i, i+1)
	return c.g.reg.Unregister(name, c.self)
}

// reregister updates the connection's own entry after its transport
// changed (StartTLS), keeping its start time.
func (c *conn) reregister() {
	m := c.meta()
	name := c.g.selfName(c.self)
	if e, err := c.g.reg.Lookup(name); err == nil {
		m.Started = e.Started
	}
	_ = c.g.reg.Register(name, c.self, m)
}
