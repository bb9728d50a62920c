package actors

import "github.com/asynkron/protoactor-go/actor"

// A connection's count state: whether it counts against its owner's
// connection limit (ranch's remove_connection takes it out). One word per
// connection (process.count), changed only by compare-and-swap or swap:
//
//	counted   -> uncounted  group.Uncount (the owner, e.g. server.RemoveConnection; any goroutine)
//	counted   -> ended      the connection ended while counted: its owner frees its slot
//	uncounted -> ended      the connection ended uncounted: nothing to free
//
// ended is final. A connection starts counted.
const (
	countCounted int32 = iota
	countUncounted
	countEnded
)

// Uncount takes the live connection pid (of sys, the group's actor
// system) of this group out of its owner's
// count, once: it reports whether it did (false when it was out already
// or has ended) and whether pid is a connection of this group at all. The
// group's onEnd function then hears that the connection ended uncounted.
// Safe from any goroutine, a callback of the connection included.
func (g *group) Uncount(sys *actor.ActorSystem, pid *actor.PID) (done, ours bool) {
	if pid == nil {
		return false, false
	}
	proc, ok := sys.ProcessRegistry.GetLocal(pid.Id)
	if !ok {
		return false, false
	}
	p, ok := proc.(*process)
	if !ok || p.g != g {
		return false, false
	}
	return p.count.CompareAndSwap(countCounted, countUncounted), true
}

// endCount marks p ended and reports whether it was counted.
func (p *process) endCount() bool { return p.count.Swap(countEnded) == countCounted }
