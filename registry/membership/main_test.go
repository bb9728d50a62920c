package membership_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/registry/internal/nodetest"
)

// Every cluster member runs in a child process (nodetest): the parent
// runs etcd and drives the children, and holds no actor system, no
// cluster and no etcd client, so goleak checks it as usual. (A
// protoactor cluster member leaves goroutines that nothing stops: the
// etcd provider never closes its etcd client, and the cluster's
// throttles live 60 s; see DISTRIBUTION.md §1.8.)
func TestMain(m *testing.M) {
	nodetest.Main(map[string]func() *nodetest.Server{"member": memberServer, "outsider": outsiderServer})
	goleak.VerifyTestMain(m)
}
