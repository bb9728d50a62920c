package manage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/server/manage/internal/managepb"
)

// Cluster-wide queries: the endpoint asks the endpoint of every other
// member of its cluster registry the same question (local only), at
// once, and merges the answers; a member that does not answer within
// fanOutTimeout, or has no endpoint, is reported in the answer's errors.

// fanOutTimeout bounds each member's answer.
const fanOutTimeout = 3 * time.Second

type nodeReply struct {
	node  string
	reply proto.Message
	err   error
}

func (r *nodeReply) nodeError() *managepb.NodeError {
	return &managepb.NodeError{Node: r.node, Error: r.err.Error()}
}

// fanOut sends req to the endpoint of every other member and returns
// their replies (none without a cluster).
func (e *Endpoint) fanOut(ctx context.Context, req proto.Message) []nodeReply {
	if e.cluster == nil {
		return nil
	}
	members, err := e.cluster.Members()
	if err != nil {
		return []nodeReply{{node: e.node.Address(), err: err}}
	}
	out := make([]nodeReply, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		out[i].node = m.Address
		if !m.Up {
			out[i].err = errors.New("node down")
			continue
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, fanOutTimeout)
			defer cancel()
			res, err := actors.Request(rctx, e.sys.Root, e.pidOf(m.Address, Name), req)
			switch r := res.(type) {
			case nil:
				if errors.Is(err, actors.ErrClosed) {
					err = ErrNoEndpoint
				}
			case *managepb.Error:
				err = fromError(m.Address, r)
			case proto.Message:
				out[i].reply = r
				if proto.MessageName(r) != proto.MessageName(expected(req)) {
					err = fmt.Errorf("%w: unexpected reply %T", ErrFailed, r)
				}
			default:
				err = fmt.Errorf("%w: unexpected reply %T", ErrFailed, r)
			}
			out[i].err = err
		})
	}
	wg.Wait()
	return out
}

// expected is the reply type of a cluster-wide request.
func expected(req proto.Message) proto.Message {
	switch req.(type) {
	case *managepb.ListServers:
		return &managepb.ServerList{}
	case *managepb.ListPools:
		return &managepb.PoolList{}
	case *managepb.ListConns:
		return &managepb.ConnList{}
	}
	return nil
}
