package host

import (
	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/internal/hostapi"
)

// Apply applies opts in order to o, the options struct of a server, client or
// pool, which embeds actors.ConnOptions. A nil option, one of another
// kind of owner, or an o that embeds no ConnOptions is an error wrapping
// actors.ErrInvalidOptions.
func Apply(o any, opts []actors.Option) error { return hostapi.Apply(o, opts) }

// OwnOption makes an option that only an options struct of type T takes (the
// one of package server, client or pool): it sets what f sets, and
// Apply refuses it for any other kind of owner. name is the option's
// name in that error.
func OwnOption[T any](name string, f func(*T)) actors.Option {
	return hostapi.OwnOption(name, func(o any) bool {
		t, ok := o.(*T)
		if ok {
			f(t)
		}
		return ok
	}).(actors.Option)
}
