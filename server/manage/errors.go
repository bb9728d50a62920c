package manage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrInsecure: Enable refused a node that listens beyond loopback
	// without mutual TLS (registry.WithMutualTLS); it is
	// registry.ErrInsecure.
	ErrInsecure = registry.ErrInsecure
	// ErrEnabled: the node already has a management endpoint.
	ErrEnabled = errors.New("etcp/manage: the node already has a management endpoint")
	// ErrNoEndpoint: the node at the address has no management endpoint
	// (it was never enabled, or it was closed).
	ErrNoEndpoint = errors.New("etcp/manage: no management endpoint")
	// ErrUnreachable: nothing accepted a connection at the address.
	// It is registry.ErrUnreachable.
	ErrUnreachable = registry.ErrUnreachable
	// ErrRefused: the node refused this node's certificate or cookie, or
	// this node could not verify the node's (registry.ErrUnauthenticated
	// is in its chain).
	ErrRefused = errors.New("etcp/manage: refused")
	// ErrReadOnly: an action verb on an endpoint enabled without
	// WithActions.
	ErrReadOnly = errors.New("etcp/manage: read-only endpoint: actions are not allowed")
	// ErrNotFound: no such server, pool or connection on that node.
	ErrNotFound = errors.New("etcp/manage: not found")
	// ErrInvalid: a malformed request or argument.
	ErrInvalid = errors.New("etcp/manage: invalid request")
	// ErrBusy: the endpoint has too many requests under way.
	ErrBusy = errors.New("etcp/manage: endpoint busy")
	// ErrFailed: the endpoint tried the action and it failed.
	ErrFailed = errors.New("etcp/manage: action failed")
	// ErrUnsupported: the endpoint does not serve that message.
	ErrUnsupported = errors.New("etcp/manage: unsupported request")
	// ErrClosed: the connection or server has ended. It is
	// registry.ErrClosed (and actors.ErrClosed, server.ErrClosed,
	// pool.ErrClosed).
	ErrClosed = registry.ErrClosed
	// ErrForbidden: the requesting node lacks the role the verb needs
	// (registry.Roles); it is registry.ErrForbidden.
	ErrForbidden = registry.ErrForbidden
)

// codeErrs maps wire codes to sentinels, and back.
var codeErrs = map[managepb.Code]error{
	managepb.Code_CODE_READ_ONLY:   ErrReadOnly,
	managepb.Code_CODE_NOT_FOUND:   ErrNotFound,
	managepb.Code_CODE_INVALID:     ErrInvalid,
	managepb.Code_CODE_BUSY:        ErrBusy,
	managepb.Code_CODE_FAILED:      ErrFailed,
	managepb.Code_CODE_UNSUPPORTED: ErrUnsupported,
	managepb.Code_CODE_CLOSED:      ErrClosed,
	managepb.Code_CODE_FORBIDDEN:   ErrForbidden,
}

// RemoteError is an Error the endpoint answered with: Is matches the
// sentinel of its code.
type RemoteError struct {
	Node    string
	Code    error // one of the sentinels above, or nil for an unknown code
	Message string
}

// Error is "etcp/manage: node: message", saying the prefix and the node
// once: the endpoint's message already starts with a prefix, and may
// name the node.
func (e *RemoteError) Error() string {
	msg := strings.TrimPrefix(e.Message, "etcp/manage: ")
	msg = strings.TrimPrefix(msg, "etcp: ")
	var b strings.Builder
	b.WriteString("etcp/manage: ")
	if e.Node != "" && !strings.Contains(msg, e.Node) {
		b.WriteString(e.Node + ": ")
	}
	b.WriteString(msg)
	return b.String()
}

// atNode is err from the node at addr, naming addr unless err does.
func atNode(addr string, err error) error {
	if strings.Contains(err.Error(), addr) {
		return fmt.Errorf("etcp/manage: %w", err)
	}
	return fmt.Errorf("etcp/manage: %s: %w", addr, err)
}

// Unwrap returns the sentinel of the error's code.
func (e *RemoteError) Unwrap() error { return e.Code }

// fromError is the Go error of a wire Error.
func fromError(node string, e *managepb.Error) error {
	return &RemoteError{Node: node, Code: codeErrs[e.Code], Message: e.Message}
}

// toError is the wire Error for err: a sentinel's code when err matches
// one, else code.
func toError(code managepb.Code, err error) *managepb.Error {
	for c, s := range codeErrs {
		if errors.Is(err, s) {
			code = c
			break
		}
	}
	return &managepb.Error{Code: code, Message: err.Error()}
}
