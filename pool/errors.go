package pool

import "errors"

// Sentinel errors; match them with [errors.Is]. The errors the pool
// returns wrap them with the details.
var (
	// ErrNoConnection: a send found no live connection (at once, or
	// within the wait set by [WithWaitForConnection]).
	ErrNoConnection = errors.New("etcp/pool: no live connection")
	// ErrClosedPool: the pool is stopped or stopping.
	ErrClosedPool = errors.New("etcp/pool: pool closed")
	// ErrInvalidOptions: Start, Add or AddN was given a bad argument or
	// option.
	ErrInvalidOptions = errors.New("etcp/pool: invalid options")
	// ErrNameTaken: another actor already has the pool's name.
	ErrNameTaken = errors.New("etcp/pool: name taken")
	// ErrUnknownConnection: no connection of the pool has that ID.
	ErrUnknownConnection = errors.New("etcp/pool: unknown connection")
	// ErrStartFailed is wrapped by the reason an [ExitPolicy] sees when a
	// connection never came up: its dial, handshake or Init failed (or
	// Init declined, which also matches actors.ErrDeclined).
	ErrStartFailed = errors.New("etcp/pool: connection start failed")
)
