package pool

import (
	"errors"
	"fmt"
	"strings"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/transport"
)

// Sentinel errors; match them with [errors.Is]. The errors the pool
// returns wrap them with the details.
var (
	// ErrNoConnection: a send found no live connection (at once, or
	// within the wait set by [WithWaitForConnection]).
	ErrNoConnection = errors.New("etcp/pool: no live connection")
	// ErrClosed: the pool is stopped or stopping. It is
	// registry.ErrClosed (and actors.ErrClosed, server.ErrClosed,
	// manage.ErrClosed): the error wrapping it names the pool.
	ErrClosed = registry.ErrClosed
	// ErrClosedPool is the old name of [ErrClosed].
	//
	// Deprecated: use ErrClosed.
	ErrClosedPool = ErrClosed
	// ErrInvalidOptions: Start, Add or AddN was given a bad argument or
	// option. It is transport.ErrInvalidOptions (and
	// actors.ErrInvalidOptions, server.ErrInvalidOptions,
	// client.ErrInvalidOptions).
	ErrInvalidOptions = transport.ErrInvalidOptions
	// ErrNameTaken: another actor already has the pool's name. It is
	// registry.ErrNameTaken.
	ErrNameTaken = registry.ErrNameTaken
	// ErrUnknownConnection: no connection of the pool has that ID.
	ErrUnknownConnection = errors.New("etcp/pool: unknown connection")
	// ErrStartFailed is wrapped by the reason an [ExitPolicy] sees when a
	// connection never came up: its dial, handshake or Init failed (or
	// Init declined, which also matches actors.ErrDeclined).
	ErrStartFailed = errors.New("etcp/pool: connection start failed")
)

// invalidOptions is err as an invalid-options error: err itself when it
// already wraps ErrInvalidOptions, so that "invalid options" is said once.
func invalidOptions(err error) error {
	if errors.Is(err, ErrInvalidOptions) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
}

// startFailed is the reason a connection to addr never came up: err of
// op ("dial", or "" for the start after it), wrapping ErrStartFailed and
// naming addr once (a transport's dial error names it already).
func startFailed(op, addr string, err error) error {
	switch {
	case strings.Contains(err.Error(), addr):
		return fmt.Errorf("%w: %w", ErrStartFailed, err)
	case op != "":
		return fmt.Errorf("%w: %s %s: %w", ErrStartFailed, op, addr, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrStartFailed, addr, err)
}
