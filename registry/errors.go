package registry

import "errors"

// Sentinel errors; match them with [errors.Is].
var (
	// ErrNameTaken: the name is held by another PID.
	ErrNameTaken = errors.New("etcp/registry: name taken")
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
	// ErrClosed: the [Cluster] or [Node] has been closed.
	ErrClosed = errors.New("etcp/registry: closed")
	// ErrAddrInUse: [StartNode] could not listen because the address is
	// taken.
	ErrAddrInUse = errors.New("etcp/registry: address in use")
	// ErrInsecure: a node, a cluster or a management endpoint was asked
	// to listen beyond loopback without mutual TLS ([WithMutualTLS]).
	ErrInsecure = errors.New("etcp: refusing to listen beyond loopback without mutual TLS (registry.WithMutualTLS)")
)
