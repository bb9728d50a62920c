package registry_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/registry/internal/nodetest"
)

func TestMain(m *testing.M) {
	nodetest.Main(map[string]func() *nodetest.Server{"sender": senderServer, "target": targetServer})
	goleak.VerifyTestMain(m)
}
