package manage_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// A child process runs a managed node (child_test.go); the parent runs
// at most one node at a time, and goleak checks it.
func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		runChild()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
