package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/actors/internal/hostapi"
	"github.com/etcp-go/etcp/behaviours"
)

// The hooks through which package actors/host, the packages that host
// connections' way in, reaches the machinery this package keeps
// unexported (see internal/hostapi).
func init() {
	hostapi.NewGroup = func(sys *actor.ActorSystem, owner string, o any, factory behaviours.Factory, arg any) (any, error) {
		g, err := newGroup(sys, owner, o.(*ConnOptions), factory, arg)
		if err != nil {
			return nil, err
		}
		return g, nil
	}
	hostapi.NewSpawner = func(g any) any { return g.(*group).newSpawner() }
	hostapi.Apply = func(o any, opts any) error {
		c, ok := o.(configurable)
		if !ok {
			return fmt.Errorf("%w: %T embeds no actors.ConnOptions", ErrInvalidOptions, o)
		}
		return applyOptions(c, opts.([]Option))
	}
	hostapi.Tell = tell
	hostapi.SendSync = sendSync
	hostapi.ForceClose = forceCloseConn
	hostapi.OwnOption = func(name string, set func(o any) bool) any { return ownOption{name: name, set: set} }
}
