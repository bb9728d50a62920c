package registry

import "errors"

// Sentinel errors; match them with [errors.Is].
var (
	// ErrNameTaken: the name is held by another PID (or another actor
	// of the actor system). It is the one sentinel of a taken name:
	// server.ErrNameTaken and pool.ErrNameTaken are this error.
	ErrNameTaken = errors.New("etcp: name taken")
	// ErrNotFound: no entry has that name.
	ErrNotFound = errors.New("etcp/registry: name not found")
	// ErrNotOwner: the name is held by another PID than the one given.
	ErrNotOwner = errors.New("etcp/registry: name held by another PID")
	// ErrNoRegistry: the registry keeps nothing ([None]), as etcp's
	// no_process_registry; a server started without a registry reports
	// it from Connections.
	ErrNoRegistry = errors.New("etcp/registry: no process registry")
	// ErrInvalid: an empty name, a nil PID or function, a PID of another
	// node given to a [Cluster], or an invalid option.
	ErrInvalid = errors.New("etcp/registry: invalid argument")
	// ErrClosed: what was asked has ended or been closed: a [Cluster] or
	// [Node] here; a connection, server, pool or management endpoint in
	// the packages that re-export it (actors.ErrClosed, server.ErrClosed,
	// pool.ErrClosed, manage.ErrClosed are this error). The error wrapping
	// it names what was closed.
	ErrClosed = errors.New("etcp: closed")
	// ErrAddrInUse: [StartNode] (or a server, whose server.ErrAddrInUse
	// is this error) could not listen because the address is taken. The
	// error also matches syscall.EADDRINUSE.
	ErrAddrInUse = errors.New("etcp: address in use")
	// ErrInsecure: a node, a cluster or a management endpoint was asked
	// to listen beyond loopback without mutual TLS ([WithMutualTLS]).
	ErrInsecure = errors.New("etcp: refusing to listen beyond loopback without mutual TLS (registry.WithMutualTLS)")
)
