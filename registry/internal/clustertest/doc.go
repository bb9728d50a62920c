// Package clustertest holds the tests of the cluster registry
// (registry.Cluster), which run every node in its own OS process (see
// package nodetest): replication latency, 100,000 names across three
// nodes, conflicts, node loss by kill -9 and rejoin, and lookups that
// send nothing. It has no code of its own.
package clustertest
