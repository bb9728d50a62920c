// Package wirepb holds the messages a connection understands from
// another node, generated from conn.proto (package etcp.conn.v1).
//
// # Generating
//
// go generate ./actors/... runs protoc (Debian's protobuf-compiler,
// libprotoc 3.21.12) with protoc-gen-go at the google.golang.org/protobuf
// version go.mod requires, through protoc-gen-go.sh; CI checks that the
// committed conn.pb.go is what it produces.
package wirepb

//go:generate protoc --plugin=protoc-gen-go=protoc-gen-go.sh --go_out=. --go_opt=paths=source_relative conn.proto
