package manage

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/pool"
	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// An endpoint's error crosses the wire (toError, fromError) and reads
// "etcp/manage: node: message" with the prefix and the node once (it
// read "etcp/manage: 127.0.0.1:7101: etcp/manage: not found..."), and
// matches its sentinel, the merged ones across packages.
func TestRemoteErrorSaysPrefixAndNodeOnce(t *testing.T) {
	const node = "127.0.0.1:7101"
	for _, tc := range []struct {
		name string
		err  error
		code managepb.Code
		want string
		is   []error
	}{
		{"not found", fmt.Errorf("%w: no server %q", ErrNotFound, "x"), managepb.Code_CODE_NOT_FOUND,
			`etcp/manage: 127.0.0.1:7101: not found: no server "x"`, []error{ErrNotFound}},
		{"closed connection", connErr(fmt.Errorf("%w: conn-3", actors.ErrClosed)), managepb.Code_CODE_CLOSED,
			`etcp/manage: 127.0.0.1:7101: closed: conn-3`,
			[]error{ErrClosed, actors.ErrClosed, registry.ErrClosed, server.ErrClosed, pool.ErrClosed}},
		{"closed server", fmt.Errorf("%w: server s", server.ErrClosed), managepb.Code_CODE_CLOSED,
			`etcp/manage: 127.0.0.1:7101: closed: server s`, []error{ErrClosed, actors.ErrClosed}},
		{"names the node", fmt.Errorf("%w: %s is busy", ErrBusy, node), managepb.Code_CODE_BUSY,
			`etcp/manage: endpoint busy: 127.0.0.1:7101 is busy`, []error{ErrBusy}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := toError(managepb.Code_CODE_FAILED, tc.err)
			assert.Equal(t, tc.code, w.Code)
			err := fromError(node, w)
			assert.Equal(t, tc.want, err.Error())
			assert.Equal(t, 1, strings.Count(err.Error(), "etcp"), err.Error())
			assert.Equal(t, 1, strings.Count(err.Error(), node), err.Error())
			for _, s := range tc.is {
				assert.ErrorIs(t, err, s)
			}
		})
	}
}

// A connection's closed error is not wrapped in a second "closed".
func TestConnErrSaysClosedOnce(t *testing.T) {
	err := connErr(fmt.Errorf("%w: conn-3", actors.ErrClosed))
	assert.Equal(t, "etcp: closed: conn-3", err.Error())
	assert.ErrorIs(t, err, ErrClosed)
	err = connErr(errors.New("boom"))
	assert.ErrorIs(t, err, ErrFailed)
	assert.NotErrorIs(t, err, ErrClosed)
}

// A local error of a request names the node unless it already does.
func TestAtNodeNamesTheNodeOnce(t *testing.T) {
	const node = "127.0.0.1:7101"
	inner := errors.New("dial tcp 127.0.0.1:7101: connect: connection refused")
	err := atNode(node, inner)
	assert.Equal(t, "etcp/manage: dial tcp 127.0.0.1:7101: connect: connection refused", err.Error())
	assert.ErrorIs(t, err, inner)
	err = atNode(node, errors.New("timeout"))
	assert.Equal(t, "etcp/manage: 127.0.0.1:7101: timeout", err.Error())
}
