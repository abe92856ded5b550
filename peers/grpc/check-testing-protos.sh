#!/usr/bin/env bash
# Regenerates gRPC's interop protos into a temp dir and diffs them with interop/proto.
# Exits 1 when the checked-in files differ from what peers/grpc/cmd/testing-protos prints.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$here" && GOFLAGS=-mod=readonly go run ./cmd/testing-protos "$tmp")

if ! diff -ru "$repo/interop/proto/grpc" "$tmp/grpc"; then
  echo "interop/proto differs from peers/grpc/cmd/testing-protos output;" \
    "regenerate: (cd peers/grpc && go run ./cmd/testing-protos ../../interop/proto)" >&2
  exit 1
fi
echo "interop/proto matches peers/grpc/cmd/testing-protos" >&2
