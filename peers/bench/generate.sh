#!/usr/bin/env bash
# Regenerates the Go code of the benchmark peers from proto/:
#   helloworld/ from proto/helloworld.proto (the service every benchmark serves): messages, grpc-go,
#     grpc-gateway and connect-go (helloworld/helloworldconnect/);
#   streaming/ from proto/streaming.proto (the four kinds of RPC): messages, grpc-go and connect-go
#     (streaming/streamingconnect/).
# with protoc-gen-go v1.36.12, protoc-gen-go-grpc 1.6.2, protoc-gen-grpc-gateway v2.34.0 and
# protoc-gen-connect-go v1.21.1:
#
#   GOBIN=/tmp/gobin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   GOBIN=/tmp/gobin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
#   GOBIN=/tmp/gobin go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@v2.34.0
#   GOBIN=/tmp/gobin go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
#   PATH=/tmp/gobin:$PATH peers/bench/generate.sh
#
# The output is committed, so building the peers needs no protoc. grpc-gateway maps the
# method, which has no google.api.http rule, to `POST /helloworld.Helloworld/Greeting`
# (generate_unbound_methods), the path micro's own JSON route answers on. The protos have no
# go_package, so the Go import paths are given with M options.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
proto=$here/../../proto
mod=github.com/micro-rs/micro-rs/peers/bench

pkg=$mod/helloworld
mkdir -p "$here/helloworld"
protoc -I "$proto" \
  --go_out="$here/helloworld" --go_opt=paths=source_relative --go_opt=Mhelloworld.proto=$pkg \
  --go-grpc_out="$here/helloworld" --go-grpc_opt=paths=source_relative --go-grpc_opt=Mhelloworld.proto=$pkg \
  --grpc-gateway_out="$here/helloworld" --grpc-gateway_opt=paths=source_relative \
  --grpc-gateway_opt=Mhelloworld.proto=$pkg --grpc-gateway_opt=generate_unbound_methods=true \
  --connect-go_out="$here/helloworld" --connect-go_opt=paths=source_relative \
  --connect-go_opt=Mhelloworld.proto=$pkg \
  helloworld.proto

pkg=$mod/streaming
mkdir -p "$here/streaming"
protoc -I "$proto" \
  --go_out="$here/streaming" --go_opt=paths=source_relative --go_opt=Mstreaming.proto=$pkg \
  --go-grpc_out="$here/streaming" --go-grpc_opt=paths=source_relative --go-grpc_opt=Mstreaming.proto=$pkg \
  --connect-go_out="$here/streaming" --connect-go_opt=paths=source_relative \
  --connect-go_opt=Mstreaming.proto=$pkg \
  streaming.proto
