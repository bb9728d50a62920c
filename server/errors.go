package server

import "errors"

// Sentinel errors; match them with [errors.Is].
var (
	// ErrInvalidOptions: Start was given a bad option.
	ErrInvalidOptions = errors.New("etcp/server: invalid options")
	// ErrAddrInUse: the address is taken. The error also matches
	// syscall.EADDRINUSE.
	ErrAddrInUse = errors.New("etcp/server: address already in use")
	// ErrListenInit: the handler's ListenInit refused to start the server.
	ErrListenInit = errors.New("etcp/server: listen init refused to start")
	// ErrNameTaken: another actor already has the server's name.
	ErrNameTaken = errors.New("etcp/server: name taken")
	// ErrServerClosed: the server was stopped.
	ErrServerClosed = errors.New("etcp/server: server closed")
)
