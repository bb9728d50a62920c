package testkit

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// OwnProcess runs the calling test (or subtest) in a process of its own:
// the test binary again, running only that test, with the environment
// variable env set. It returns true in the parent once that process has
// passed (its output logged when -v), and the test returns at once; in
// the child it returns false and the test runs. A test that starts a
// protoactor remote uses it so that its node is the only remote of its
// process (two remotes in one process race on gRPC's global logger).
func OwnProcess(t *testing.T, env string) bool {
	t.Helper()
	if os.Getenv(env) != "" {
		return false
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.v",
		"-test.timeout=3m")
	cmd.Env = append(os.Environ(), env+"=1", "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	if testing.Verbose() {
		t.Logf("in its own process:\n%s", out)
	}
	return true
}
