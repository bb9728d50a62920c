package registry

import "github.com/asynkron/protoactor-go/actor"

// None returns the [Registry] that keeps nothing: Register and Unregister
// succeed and forget, while Lookup, Select and Subscribe report
// [ErrNoRegistry]. A server given None keeps no list of its connections,
// and its Connections reports ErrNoRegistry, as etcp's
// no_process_registry.
func None() Registry { return none{} }

type none struct{}

func (none) Register(name string, pid *actor.PID, _ Meta) error {
	if name == "" || pid == nil {
		return ErrInvalid
	}
	return nil
}
func (none) Unregister(string, *actor.PID) error   { return nil }
func (none) Lookup(string) (Entry, error)          { return Entry{}, ErrNoRegistry }
func (none) Select(Query) ([]Entry, error)         { return nil, ErrNoRegistry }
func (none) Subscribe(func(Event)) (func(), error) { return nil, ErrNoRegistry }
