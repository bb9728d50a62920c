//go:build race

package clustertest

// The race detector slows every node process 10-20 times; see TestCluster100k.
const raceOn = true
