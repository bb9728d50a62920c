package server

import (
	"errors"
	"fmt"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/transport"
)

// Sentinel errors; match them with [errors.Is].
var (
	// ErrInvalidOptions: Start was given a bad option. It is
	// transport.ErrInvalidOptions (and actors.ErrInvalidOptions,
	// client.ErrInvalidOptions, pool.ErrInvalidOptions): one sentinel,
	// whichever package a bad option came from.
	ErrInvalidOptions = transport.ErrInvalidOptions
	// ErrAddrInUse: the address is taken. The error also matches
	// syscall.EADDRINUSE.
	ErrAddrInUse = errors.New("etcp/server: address already in use")
	// ErrListenInit: the handler's ListenInit refused to start the server.
	ErrListenInit = errors.New("etcp/server: listen init refused to start")
	// ErrNameTaken: another actor already has the server's name. It is
	// registry.ErrNameTaken.
	ErrNameTaken = registry.ErrNameTaken
	// ErrClosed: the server was stopped. It is registry.ErrClosed (and
	// actors.ErrClosed, pool.ErrClosed, manage.ErrClosed): the error
	// wrapping it names the server.
	ErrClosed = registry.ErrClosed
	// ErrServerClosed is the old name of [ErrClosed].
	//
	// Deprecated: use ErrClosed.
	ErrServerClosed = ErrClosed
)

// invalidOptions is err as an invalid-options error: err itself when it
// already wraps ErrInvalidOptions, so that "invalid options" is said once.
func invalidOptions(err error) error {
	if errors.Is(err, ErrInvalidOptions) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
}
