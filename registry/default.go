package registry

import (
	"runtime"
	"sync"
	"weak"

	"github.com/asynkron/protoactor-go/actor"
)

// defaults holds each actor system's default registry, keyed weakly and
// dropped when the system is collected.
var defaults sync.Map // weak.Pointer[actor.ActorSystem] -> Registry

// Of returns sys's default registry: the one servers, pools and clients
// of sys register their connections in unless given another, and where
// names given to package client are looked up. It is a [Local] registry
// made on first use, unless [SetDefault] chose another.
func Of(sys *actor.ActorSystem) Registry {
	key := weak.Make(sys)
	if r, ok := defaults.Load(key); ok {
		return r.(Registry)
	}
	r, loaded := defaults.LoadOrStore(key, Registry(NewLocal()))
	if !loaded {
		runtime.AddCleanup(sys, forget, key)
	}
	return r.(Registry)
}

// SetDefault makes r sys's default registry (a [Cluster], for names
// found on every node). Set it before starting servers, pools or clients
// that should use it.
func SetDefault(sys *actor.ActorSystem, r Registry) {
	key := weak.Make(sys)
	if _, loaded := defaults.Swap(key, r); !loaded {
		runtime.AddCleanup(sys, forget, key)
	}
}

func forget(key weak.Pointer[actor.ActorSystem]) { defaults.Delete(key) }
