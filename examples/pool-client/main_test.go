package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcp-go/etcp/test/testkit"
)

// The dead-letter throttle of protoactor's actor system (one second by
// default) may still be counting down when the tests end: a reply whose
// caller has gone is a dead letter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

func TestRun(t *testing.T) {
	// A raw echo server, as the echo example's.
	srv := testkit.StartServer(t, testkit.NewSystem(t), "", testkit.NewEcho, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-addr", srv.Addr().String(), "-conns", "3", "-n", "300"}, &stdout, &stderr)
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.Empty(t, stderr.String())
	out := stdout.String()
	require.Contains(t, out, "pool of 3 connections to "+srv.Addr().String())
	require.Contains(t, out, "sent 300, echoed 300, failed 0")
	require.True(t, strings.HasSuffix(out, "over 3/3 live connections\n"), out)
}

func TestRunReportsErrors(t *testing.T) {
	// Nobody listens: every message fails with ErrNoConnection, reported.
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, []string{"-addr", "127.0.0.1:1", "-conns", "2", "-n", "3", "-timeout", "50ms"}, &stdout, &stderr)
	require.ErrorContains(t, err, "3 of 3 messages failed")
	require.Equal(t, 3, strings.Count(stderr.String(), "no live connection"), stderr.String())
	require.Contains(t, stdout.String(), "sent 3, echoed 0, failed 3")
}
