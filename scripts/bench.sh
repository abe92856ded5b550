#!/usr/bin/env bash
# Runs the benchmarks in release mode and prints their tables (see BENCHMARKS.md).
#
#   scripts/bench.sh                 # every benchmark, default sizes
#   scripts/bench.sh --requests 100000 --concurrency 64
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}/target}
cd "$root"
cargo run --release --locked -p micro-benches --bin unary -- "$@"
