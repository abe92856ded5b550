#!/usr/bin/env bash
# Counts the user-space instructions one unary call costs in each stack of the unary benchmark,
# under callgrind: deterministic, unlike throughput on a shared machine (see BENCHMARKS.md).
#
#   scripts/instructions.sh                       # tonic, micro@tonic, tonic@micro, micro, stack
#   scripts/instructions.sh stack tonic           # some of them
#
# Each stack runs twice (2,000 and 6,000 calls from 32 callers); the difference over 4,000 calls
# is the cost per call, without start-up. Needs valgrind (apt-get install -y valgrind).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}/target}
command -v valgrind >/dev/null || { echo "valgrind is not installed: apt-get install -y valgrind" >&2; exit 1; }
cd "$root"
cargo build --release --locked -p micro-benches --bin unary
bin=$CARGO_TARGET_DIR/release/unary
stacks=("$@")
[ ${#stacks[@]} -gt 0 ] || stacks=(tonic micro@tonic tonic@micro micro stack)

instructions() { # stack calls
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --only "$1" \
    --requests "$2" --concurrency 32 2>&1 | awk '/Collected/ { print $4 }'
}

printf '%-14s %s\n' stack "instructions per call"
for stack in "${stacks[@]}"; do
  small=$(instructions "$stack" 2000)
  large=$(instructions "$stack" 6000)
  printf '%-14s %d\n' "$stack" $(((large - small) / 4000))
done
