// Package hooks holds switches that the registry's tests flip inside node
// processes, to make rare interleavings happen on demand.
package hooks

import "sync/atomic"

// HoldDeltas, while true, keeps a Cluster from sending its own changes:
// they stay pending until it is false again and the next change or
// heartbeat tick sends them. Tests use it to have two nodes register one
// name before either hears of the other, which is what "at the same
// time" means to the registry.
var HoldDeltas atomic.Bool
