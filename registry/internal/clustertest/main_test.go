package clustertest

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/registry/internal/nodetest"
)

// The parent process runs no actor system: every node is a child, so
// goleak checks the parent as usual.
func TestMain(m *testing.M) {
	nodetest.Main(map[string]func() *nodetest.Server{"node": nodeServer, "conns": connsServer, "attacker": attackerServer})
	goleak.VerifyTestMain(m)
}
