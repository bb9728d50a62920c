// Package registry will hold the connection registries of etcp: where
// connection PIDs are kept under names, as etcp kept them in ETS or
// Mnesia. It is to offer two: a fast, in-process one (the default), and
// one that other nodes of a protoactor cluster can query. It holds
// nothing else for now.
package registry
