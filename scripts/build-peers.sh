#!/usr/bin/env bash
# Builds the Go peers the interop tests drive, from the modules in peers/:
#
#   grpc-interop-client, grpc-interop-server   grpc-go's interop client and server
#   connectconformance                         the Connect conformance runner
#   compression-interop                        peers/grpc/cmd/compression-interop
#   gomicro4-*, gomicro5-*                     peers/gomicro-v{4,5}/cmd/*: go-micro v4 and v5
#                                              services, clients, broker, events, store, JWT,
#                                              and for the benchmarks a load generator
#                                              (loadgen) and an HTTP broker bench (brokerbench)
#   gomicro5-micro                             go-micro v5's CLI (cmd/micro)
#   jaeger                                     Jaeger v2 (peers/jaeger): the OTLP receiver and
#                                              trace store the OpenTelemetry tests export to
#   grpc-gateway                               peers/bench/cmd/grpc-gateway: grpc-gateway v2 in
#                                              front of helloworld, for scripts/bench.sh gateway
#   grpc-go-server, connect-go-server, loadgen peers/bench/cmd/*: helloworld and streaming on
#                                              grpc-go and connect-go, and a Go load generator
#                                              (grpc-go and connect-go clients), for the peer
#                                              benchmarks
#
# into $MICRO_CACHE_DIR/peers/bin (default ~/.cache/micro-rs/peers/bin) and prints that directory
# as the last line of stdout; logs go to stderr. A stamp records a hash of peers/**/{go.mod,
# go.sum,*.go}, this script and `go version`; when it matches, nothing is rebuilt. Builds use
# the module cache only (-mod=readonly), so after the first fetch they work offline.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}/peers/bin
stamp=$bin/.stamp

# name=module:package, built in peers/<module>.
targets=(
  grpc-interop-client=grpc:google.golang.org/grpc/interop/client
  grpc-interop-server=grpc:google.golang.org/grpc/interop/server
  connectconformance=grpc:connectrpc.com/conformance/cmd/connectconformance
  compression-interop=grpc:./cmd/compression-interop
  gomicro4-helloworld=gomicro-v4:./cmd/helloworld
  gomicro4-call=gomicro-v4:./cmd/call
  gomicro4-broker=gomicro-v4:./cmd/broker
  gomicro4-events=gomicro-v4:./cmd/events
  gomicro4-jwt=gomicro-v4:./cmd/jwt
  gomicro4-loadgen=gomicro-v4:./cmd/loadgen
  gomicro4-brokerbench=gomicro-v4:./cmd/brokerbench
  gomicro5-helloworld=gomicro-v5:./cmd/helloworld
  gomicro5-call=gomicro-v5:./cmd/call
  gomicro5-broker=gomicro-v5:./cmd/broker
  gomicro5-events=gomicro-v5:./cmd/events
  gomicro5-store=gomicro-v5:./cmd/store
  gomicro5-jwt=gomicro-v5:./cmd/jwt
  gomicro5-loadgen=gomicro-v5:./cmd/loadgen
  gomicro5-brokerbench=gomicro-v5:./cmd/brokerbench
  gomicro5-micro=gomicro-v5:go-micro.dev/v5/cmd/micro
  jaeger=jaeger:github.com/jaegertracing/jaeger/cmd/jaeger
  grpc-gateway=bench:./cmd/grpc-gateway
  grpc-go-server=bench:./cmd/grpc-go-server
  connect-go-server=bench:./cmd/connect-go-server
  loadgen=bench:./cmd/loadgen
)

log() { printf '\033[1mbuild-peers.sh:\033[0m %s\n' "$*" >&2; }

# inputs_hash hashes everything a build depends on.
inputs_hash() {
  {
    (cd "$root" && find peers -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum <"${BASH_SOURCE[0]}"
    go version
  } | sha256sum | cut -d' ' -f1
}

# up_to_date: the stamp matches and every binary is there.
up_to_date() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$1" ] || return 1
  local t
  for t in "${targets[@]}"; do [ -x "$bin/${t%%=*}" ] || return 1; done
}

# build_all builds every target into a fresh directory, then swaps it in.
build_all() {
  local hash=$1 out
  mkdir -p "$(dirname "$bin")"
  out=$(mktemp -d "$bin.new.XXXXXX")
  chmod 755 "$out"
  trap 'rm -rf "$out"' EXIT
  local t name module package
  for t in "${targets[@]}"; do
    name=${t%%=*} module=${t#*=}
    package=${module#*:} module=${module%%:*}
    log "go build $package (peers/$module) -> $bin/$name"
    (cd "$root/peers/$module" && go build -trimpath -o "$out/$name" "$package") ||
      { log "building $package failed (offline? the first build needs the Go module proxy)"; exit 1; }
  done
  printf '%s\n' "$hash" >"$out/.stamp"
  rm -rf "$bin"
  mv "$out" "$bin"
  trap - EXIT
}

main() {
  command -v go >/dev/null || { log "go not found on PATH; install Go 1.26 or newer"; exit 1; }
  export GOFLAGS="-mod=readonly -buildvcs=false"
  local hash
  hash=$(inputs_hash)
  if up_to_date "$hash"; then
    log "peers up to date in $bin"
  else
    build_all "$hash"
    log "built peers into $bin"
  fi
  printf '%s\n' "$bin"
}

main "$@"
