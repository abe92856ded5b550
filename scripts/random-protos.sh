#!/usr/bin/env bash
# Long run of the randomised-schema check, by hand: for seeds FIRST..END in batches, generate
# the random-proto schemas with micro-build and compile them (building micro-corpus), then check
# protoc writes the same bytes and that each schema with a clash added is refused with an error
# naming it (its `random` test). CI runs only the seeded set (1..25).
#
#   scripts/random-protos.sh 25 1025        # seeds 25 to 1024, 50 per batch
#   scripts/random-protos.sh 25 1025 100    # 100 per batch
#
# Prints one line per batch and stops at the first failure, naming the seeds.
set -euo pipefail

first=${1:?usage: random-protos.sh FIRST END [BATCH]}
end=${2:?usage: random-protos.sh FIRST END [BATCH]}
batch=${3:-50}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
export MICRO_TEST_PROTOC=${MICRO_TEST_PROTOC:-$(command -v protoc)}
export MICRO_TEST_REQUIRE_TOOLS=1
# The generated crate is large and rebuilt from scratch per batch: incremental data only costs.
export CARGO_INCREMENTAL=0
cd "$root"

started=$(date +%s)
for ((from = first; from < end; from += batch)); do
  to=$((from + batch < end ? from + batch : end))
  export MICRO_CORPUS_SEEDS="$from..$to"
  # Building the test builds the crate with the batch's schemas in it.
  if ! out=$(cargo test --quiet -p micro-corpus --test random 2>&1); then
    printf '%s\n' "$out" | tail -40
    echo "random-protos: seeds $from..$to failed (rerun with MICRO_CORPUS_SEEDS=$from..$to)"
    exit 1
  fi
  echo "random-protos: seeds $from..$to built and checked ($(( $(date +%s) - started )) s so far)"
done
echo "random-protos: all $((end - first)) seeds passed in $(( $(date +%s) - started )) s"
