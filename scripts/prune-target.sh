#!/usr/bin/env bash
# Deletes the older copies of test executables in the shared cargo target dir, keeping the
# newest of each name. Every build with other features or flags (`cargo test -p examples`
# beside the CI's `cargo test --workspace --all-features`) links its own copy of each test
# binary (~250 MB each, ~25 GB a set), and cargo never removes old ones, so a development
# machine's disk fills. A later build of a pruned configuration relinks what it needs.
#
#   scripts/prune-target.sh            # prune, print what was freed
#   scripts/prune-target.sh --if-below 30   # only when less than 30 GB are free
set -euo pipefail

cache=${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}
deps=${CARGO_TARGET_DIR:-$cache/target}/debug/deps
[ -d "$deps" ] || exit 0

if [ "${1:-}" = "--if-below" ]; then
  free_gb=$(( $(df --output=avail -k "$deps" | tail -1) / 1024 / 1024 ))
  [ "$free_gb" -lt "${2:?--if-below takes a number of GB}" ] || exit 0
fi

# `<name>-<16 hex digits>` executables, newest first per name; all but the first go.
find "$deps" -maxdepth 1 -type f -executable ! -name '*.*' -printf '%T@ %s %f\n' |
  sed -nE 's/^([0-9.]+) ([0-9]+) (([A-Za-z0-9_]+)-[0-9a-f]{16})$/\1 \2 \4 \3/p' |
  sort -k3,3 -k1,1nr |
  awk -v deps="$deps" 'seen[$3]++ { freed += $2; print deps "/" $4 }
       END { printf "prune-target: %.1f GB of older test executables\n", freed / 1e9 > "/dev/stderr" }' |
  xargs -r rm -f
