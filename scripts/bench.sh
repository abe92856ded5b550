#!/usr/bin/env bash
# Runs the benchmarks in release mode and prints their results (see BENCHMARKS.md).
#
#   scripts/bench.sh            # every benchmark
#   scripts/bench.sh unary      # one of: unary, json, auth, discovery, messaging, store, gateway, peers, codegen
#   scripts/bench.sh unary --concurrency 1 --pool-size 1   # further arguments go to that one
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}/target}
cd "$root"
which=${1:-all}
[ $# -gt 0 ] && shift
case "$which" in all|unary|json|auth|discovery|messaging|store|gateway|peers|codegen) ;; *) echo "unknown benchmark: $which" >&2; exit 2 ;; esac

# The external tools the peer and codegen benchmarks drive (h2load, wrk, hyperfine), from
# Debian's packages when missing and we may install (root); without them those parts say so
# and are left out.
install_bench_tools() {
  local missing=()
  command -v h2load >/dev/null || missing+=(nghttp2-client)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench.sh: installing ${missing[*]} with apt" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bench.sh: ${missing[*]} not installed; the benchmarks that drive them are left out" >&2
  fi
}
case "$which" in all|peers|codegen) install_bench_tools ;; esac
# protoc-gen-micro against protoc-gen-prost + protoc-gen-tonic, timed with hyperfine; needs none
# of the bench binaries.
if [ "$which" = codegen ]; then exec "$root/benches/codegen/run.sh" "$@"; fi
cargo build --release --locked -p micro-benches
bin=$CARGO_TARGET_DIR/release
if [ "$which" = all ] || [ "$which" = unary ]; then "$bin/unary" "$@"; fi
if [ "$which" = all ] || [ "$which" = json ]; then "$bin/json" "$@"; fi
if [ "$which" = all ] || [ "$which" = auth ]; then "$bin/auth" "$@"; fi
if [ "$which" = all ] || [ "$which" = messaging ]; then
  # go-micro's HTTP broker (Go) runs beside micro's, built with the other Go peers.
  if command -v go >/dev/null; then
    MICRO_TEST_GO_PEERS=$("$root/scripts/build-peers.sh" | tail -1)
    export MICRO_TEST_GO_PEERS
  fi
  "$bin/messaging" "$@"
fi
if [ "$which" = all ] || [ "$which" = store ]; then "$bin/store" "$@"; fi
if [ "$which" = all ] || [ "$which" = gateway ]; then
  # grpc-gateway (Go) runs beside micro's gateway, built with the other Go peers.
  if command -v go >/dev/null; then
    MICRO_TEST_GO_PEERS=$("$root/scripts/build-peers.sh" | tail -1)
    export MICRO_TEST_GO_PEERS
  fi
  "$bin/gateway" "$@"
fi
if [ "$which" = all ] || [ "$which" = peers ]; then
  # grpc-go, connect-go and the Go load generator, beside micro and tonic in processes of
  # their own (servers on core 1, load generators on core 0).
  MICRO_TEST_GO_PEERS=$("$root/scripts/build-peers.sh" | tail -1)
  export MICRO_TEST_GO_PEERS
  "$bin/peers" "$@"
fi
if [ "$which" = all ] || [ "$which" = discovery ]; then
  "$bin/discovery" --registry etcd
  # mDNS inside a network namespace of its own, so nothing reaches the network card.
  unshare --net --map-root-user sh -c \
    "ip link set lo up && ip link set lo multicast on && exec $bin/discovery --registry mdns"
fi
if [ "$which" = all ]; then "$root/benches/codegen/run.sh"; fi
