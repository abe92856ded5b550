#!/usr/bin/env bash
# Packages the publishable crates as `cargo publish` would, and builds each one from its
# `.crate` against the others' (cargo verifies interdependent workspace crates together through
# a temporary local registry), offline: the check that a release would not fail half-way.
#
#   scripts/package.sh                # package and verify micro-macros, micro-build,
#                                     # protoc-gen-micro, micro and micro-cli
#   scripts/package.sh --list         # extra arguments go to `cargo package`
#
# Needs the dependencies already in ~/.cargo (any earlier build or `cargo fetch`) and protoc
# (micro-cli builds micro with etcd, whose client's build script runs it). The other crates
# are `publish = false`. `--allow-dirty` because this is a check, not a release: it packages
# what is in the working tree.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}/target}

crates=(micro-macros micro-build protoc-gen-micro micro micro-cli)
# The integration tests stay out of the packages (they need the workspace's unpublished
# test-support and examples crates); cargo says so once per test, which is expected.
expected='^warning: ignoring test `[a-z_]*` as `tests/[a-z_]*\.rs` is not included in the published package$'
packages=()
for name in "${crates[@]}"; do packages+=(-p "$name"); done
# Cargo verifies a crate against the others through a local registry, whose crates it unpacks
# into `registry/src/-<hash>/<name>-<version>` once and builds once (a registry crate of the
# same version is taken to be the same): a later run would build micro-cli against an earlier
# run's micro. So both go first: the unpacked sources (local registries' directories start
# with `-`, crates.io's never do) and what was built from them.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
deps=$CARGO_TARGET_DIR/debug/deps
for name in "${crates[@]}"; do
  rm -rf "$cargo_home"/registry/src/-*/"$name"-[0-9]* "$cargo_home"/registry/cache/-*/"$name"-[0-9]*
  for info in $(grep -l "registry/src/-[^/]*/$name-[0-9][^/]*/src/lib.rs" "$deps"/*.d 2>/dev/null); do
    unit=$(basename "$info" .d)
    rm -rf "$info" "$deps/lib$unit".* "$CARGO_TARGET_DIR/debug/.fingerprint/$unit"
  done
done
cargo package --offline --locked --allow-dirty "${packages[@]}" "$@" 2>&1 |
  { grep -v "$expected" || true; }

# A package over 2 MiB has picked up something it should not (fixtures, generated files).
for name in "${crates[@]}"; do
  file=$(ls -t "$CARGO_TARGET_DIR"/package/"$name"-[0-9]*.crate 2>/dev/null | head -1 || true)
  [[ -n $file ]] || continue # --list makes none
  size=$(stat -c %s "$file")
  if ((size > 2 * 1024 * 1024)); then
    echo "package.sh: $file is $((size / 1024)) KiB; check \`cargo package --list -p $name\`" >&2
    exit 1
  fi
done
