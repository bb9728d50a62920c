//go:build race

package main

// raceBuild: the test binary has the race detector, so etcpctl is built
// with it too (which also reuses the packages the test build compiled).
const raceBuild = true
