package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// The cluster scenario's flags are checked before anything starts.
func TestClusterFlags(t *testing.T) {
	for args, want := range map[string]string{
		"-nodes 0":                "-nodes must be >= 1",
		"-nodes 4 -conns 3":       "-conns must be >= -nodes",
		"-calls -1":               "-calls must be >= 0",
		"-nodes 1 -conns 1000000": "raise -nodes",
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"cluster"}, strings.Fields(args)...), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", args, code, errb.String(), want)
		}
	}
}

// A small cluster scenario, in a process of its own (it runs a node of
// the cluster itself): three echo nodes, 600 named connections from one
// holder, every name resolved and 30 called from the tool's node. It
// checks the report's rows, never how its figures compare. A real load
// run: ETCP_LOAD=1.
func TestClusterScenario(t *testing.T) {
	needLoad(t)
	cmd := exec.Command(self(t), "-load", "cluster", "-nodes", "3", "-conns", "600", "-calls", "30")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	t.Logf("stdout:\n%s\nstderr (tail):\n%s", out.String(), tail(errb.String(), 4000))
	if err != nil {
		t.Fatalf("load cluster: %v", err)
	}
	for _, row := range []string{
		`(?m)^cluster: 3 nodes, 600 connections \(1 holder processes\)`,
		`(?m)^connect all\s+\d+\.\d\d s$`,
		`(?m)^every name resolvable on another node\s+\d+\.\d\d s$`,
		`(?m)^VmRSS growth per served connection \(B\)\s+n1 -?\d+, n2 -?\d+, n3 -?\d+$`,
		`(?m)^cluster top-100 by bytes\s+\S+ ms .*; 600 looked at, 600 matched$`,
		`(?m)^cluster top-100 by age\s+\S+ ms .*; 600 looked at, 600 matched$`,
		`(?m)^cluster filtered by peer \(one holder's address\)\s+\S+ ms .*; 600 looked at, 600 matched$`,
		`(?m)^calls by name from another node\s+30 of 30 answered; median \S+ ms`,
	} {
		if !regexp.MustCompile(row).MatchString(out.String()) {
			t.Errorf("no row matching %s", row)
		}
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
