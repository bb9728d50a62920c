// Package host is for the packages that host connections (server, pool,
// client); it is not for applications. It holds what those packages need
// from package actors and what an application never uses, so that the
// documentation of actors stays the handler author's and the embedder's.
package host
