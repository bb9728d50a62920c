package server

import (
	"errors"
	"fmt"
	"strings"

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
	// syscall.EADDRINUSE. It is registry.ErrAddrInUse.
	ErrAddrInUse = registry.ErrAddrInUse
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

// addrInUse is a listen error for a taken address: it reads as the
// listen error (which names the address and says it is in use already)
// and matches ErrAddrInUse too.
type addrInUse struct{ err error }

func (e addrInUse) Error() string   { return e.err.Error() }
func (e addrInUse) Unwrap() []error { return []error{ErrAddrInUse, e.err} }

// listenerGone is the error a server stops with when its listener died
// and could not be reopened at addr: err, naming addr once.
func listenerGone(addr string, err error) error {
	if strings.Contains(err.Error(), addr) {
		return fmt.Errorf("etcp/server: listener died and could not be reopened: %w", err)
	}
	return fmt.Errorf("etcp/server: listener on %s died and could not be reopened: %w", addr, err)
}
