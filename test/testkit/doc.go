// Package testkit holds the fixtures the etcp test suites share: a quiet
// actor system, a server and a client connection stopped when the test
// ends, raw sockets with deadlines, bounded reads from sockets and
// channels, and a harness for the examples' run functions.
//
// Every helper that starts something registers its end with t.Cleanup,
// so a test leaves nothing running for goleak to find. Every blocking
// step is bounded by [Wait].
//
// It is imported only by test files; it must not import any package's
// test files.
package testkit
