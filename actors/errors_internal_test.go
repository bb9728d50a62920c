package actors

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/etcp-go/etcp/registry"
	"github.com/etcp-go/etcp/transport"
)

// A connection's closed error reads "etcp: connection closed" and is the
// module's one ErrClosed; crossing to another node it says "closed" once
// (it said "etcp: connection closed: etcp: connection closed: ...").
func TestConnClosedSaidOnce(t *testing.T) {
	assert.ErrorIs(t, errConnClosed, ErrClosed)
	assert.ErrorIs(t, errConnClosed, registry.ErrClosed)
	assert.Equal(t, "etcp: connection closed", errConnClosed.Error())

	reset := errors.New("peer reset")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{closedBy(nil), "etcp: connection closed"},
		{closedBy(reset), "etcp: connection closed: peer reset"},
		{fmt.Errorf("%w: server s", registry.ErrClosed), "etcp: connection closed: server s"},
	} {
		w := replyToWire(tc.err)
		assert.Equal(t, "closed", w.Code)
		_, err := replyFromWire(w)
		assert.Equal(t, tc.want, err.Error())
		assert.Equal(t, 1, strings.Count(err.Error(), "closed"), err.Error())
		assert.ErrorIs(t, err, ErrClosed)
	}
}

// A bad socket option says "invalid options" once, and is
// transport.ErrInvalidOptions.
func TestInvalidSocketOptionSaidOnce(t *testing.T) {
	o := ConnOptions{Socket: []transport.Option{transport.WithMaxFrame(-1)}}
	_, err := o.validate()
	assert.ErrorIs(t, err, ErrInvalidOptions)
	assert.ErrorIs(t, err, transport.ErrInvalidOptions)
	assert.Equal(t, "etcp: invalid options: MaxFrame -1 is negative", err.Error())
	o = ConnOptions{IdleTimeout: -1}
	_, err = o.validate()
	assert.Equal(t, "etcp: invalid options: IdleTimeout is negative", err.Error())
}
