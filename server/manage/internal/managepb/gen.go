// Package managepb holds the wire messages of remote supervision
// (package server/manage), generated from manage.proto (package
// etcp.manage.v1).
//
// # Generating
//
// go generate ./server/manage/... runs protoc (Debian's protobuf-compiler,
// libprotoc 3.21.12) with protoc-gen-go at the google.golang.org/protobuf
// version go.mod requires, through protoc-gen-go.sh; CI checks that the
// committed manage.pb.go is what it produces.
package managepb

//go:generate protoc --plugin=protoc-gen-go=protoc-gen-go.sh --go_out=. --go_opt=paths=source_relative manage.proto
