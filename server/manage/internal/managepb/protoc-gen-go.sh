#!/bin/sh
# protoc's Go plugin at the google.golang.org/protobuf version go.mod
# requires, so generated code matches the runtime it links with.
exec go run google.golang.org/protobuf/cmd/protoc-gen-go "$@"
