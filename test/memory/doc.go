// Package memory accounts for what one server-side connection costs, part
// by part: the socket's Go side, protoactor's actor, and the library's own
// records, for connections that are idle with their reader, parked on the
// poller, hibernated (passivated), and named in the registry.
//
//	go test -run='^$' -bench=Memory -benchtime=1x ./test/memory
//
// Each case starts its own server in this process, opens the connections
// from raw descriptors (no Go object on the client side), collects the
// garbage, and reports the growth of the heap and of goroutine stacks per
// connection. Figures are bytes, not times: a busy machine does not move
// them much.
package memory
