// Package registrypb holds the wire messages of the cluster registry,
// generated from registry.proto (package etcp.registry.v1).
//
// # Generating
//
// go generate ./registry/... runs protoc (Debian's protobuf-compiler,
// libprotoc 3.21.12) with protoc-gen-go at the google.golang.org/protobuf
// version go.mod requires, through protoc-gen-go.sh; CI checks that the
// committed registry.pb.go is what it produces.
package registrypb

//go:generate protoc --plugin=protoc-gen-go=protoc-gen-go.sh --go_out=. --go_opt=paths=source_relative registry.proto
