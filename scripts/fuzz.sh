#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (libFuzzer), each for a time budget. See FUZZING.md.
#
#   scripts/fuzz.sh                          # every target, 600 s each (the default budget)
#   scripts/fuzz.sh grpc_frame jwt --seconds 3600
#   scripts/fuzz.sh --smoke                  # every target ~10 s: the CI pass (a few minutes)
#   scripts/fuzz.sh --build                  # build only
#   scripts/fuzz.sh --smoke --no-build       # run what the last build made
#   scripts/fuzz.sh --seeds                  # rewrite the seeds micro's own code makes
#   scripts/fuzz.sh --list                   # the targets
#
# Needs the nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz into
# $MICRO_CACHE_DIR/tools (default ~/.cache/micro-rs/tools) when it is missing. Builds into
# $MICRO_CACHE_DIR/fuzz-target, outside the clone. New inputs found during a run go to
# $MICRO_CACHE_DIR/fuzz-corpus/<target>; the committed seeds in fuzz/corpus/<target> are only
# read. A crash stops its target: the input is in fuzz/artifacts/<target>/ and the script exits
# non-zero once every target ran. Each run's last status line is printed per target.
#
# FUZZ_SANITIZER (default none: micro forbids unsafe code, and without ASan targets build and
# run several times faster; `address` for C dependencies) and FUZZ_JOBS (default 1) tune runs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}
fuzz="$root/fuzz"
sanitizer=${FUZZ_SANITIZER:-none}
jobs=${FUZZ_JOBS:-1}
export CARGO_TARGET_DIR="$cache/fuzz-target"

log() { printf '\033[1mfuzz.sh:\033[0m %s\n' "$*" >&2; }

all_targets() { sed -n 's/^name = "\(.*\)"$/\1/p' "$fuzz/Cargo.toml" | grep -v '^micro-fuzz$'; }

seconds=600
mode=run
build=yes
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --smoke) mode=smoke; seconds=10; shift ;;
    --build) mode=build; shift ;;
    --no-build) build=no; shift ;;
    --seeds) mode=seeds; shift ;;
    --list) all_targets; exit 0 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) log "unknown option $1"; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || mapfile -t targets < <(all_targets)

# cargo-fuzz, from crates.io, once.
if ! cargo fuzz --version >/dev/null 2>&1; then
  export PATH="$cache/tools/bin:$PATH"
  if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz into $cache/tools"
    cargo install cargo-fuzz --locked --root "$cache/tools"
  fi
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "cargo fuzz needs a nightly toolchain; installing it (rustup toolchain install nightly)"
  rustup toolchain install nightly --profile minimal || {
    log "cannot install the nightly toolchain: install it by hand (rustup toolchain install nightly)"
    exit 1
  }
fi

cd "$fuzz"
if [[ $build == yes ]]; then
  log "building ${#targets[@]} target(s) (sanitizer: $sanitizer)"
  if [[ ${targets[*]} == "$(all_targets | xargs)" ]]; then
    cargo +nightly fuzz build --sanitizer "$sanitizer"
  else
    for target in "${targets[@]}"; do
      cargo +nightly fuzz build --sanitizer "$sanitizer" "$target"
    done
  fi
fi
[[ $mode == build ]] && exit 0

# The binaries are run as built, so that a tree changing meanwhile does not rebuild them.
bin="$CARGO_TARGET_DIR/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

if [[ $mode == seeds ]]; then
  # Each target writes the seeds it makes with micro's code when MICRO_FUZZ_SEEDS is set.
  for target in "${targets[@]}"; do
    mkdir -p "$fuzz/corpus/$target"
    MICRO_FUZZ_SEEDS="$fuzz/corpus" "$bin/$target" -runs=0 "$fuzz/corpus/$target" >/dev/null 2>&1
  done
  log "seeds written under fuzz/corpus/"
  exit 0
fi

failed=()
for target in "${targets[@]}"; do
  work="$cache/fuzz-corpus/$target"
  mkdir -p "$work" "$fuzz/corpus/$target" "$fuzz/artifacts/$target"
  args=(-max_total_time="$seconds" -print_final_stats=1
        -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$fuzz/artifacts/$target/")
  # One process unless asked: libFuzzer's -jobs writes fuzz-N.log files in the current directory.
  ((jobs > 1)) && args+=(-jobs="$jobs" -workers="$jobs")
  [[ -f "$fuzz/dict/$target.dict" ]] && args+=(-dict="$fuzz/dict/$target.dict")
  # Longer inputs for long runs: frames, packets and config files grow past 4 KiB.
  if [[ $mode == smoke ]]; then args+=(-max_len=4096); else args+=(-max_len=65536); fi
  log "$target: ${seconds}s"
  output="$cache/fuzz-$target.log"
  # The first corpus directory receives new inputs; the committed seeds are read only.
  if "$bin/$target" "${args[@]}" "$work" "$fuzz/corpus/$target" >"$output" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$output" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$output" | tail -1)
    log "$target: clean, ${execs:-?} runs, $cov"
  else
    log "$target: FAILED; see $output and fuzz/artifacts/$target/"
    grep -m5 -E 'panicked|ERROR|SUMMARY' "$output" >&2 || true
    failed+=("$target")
  fi
done

if ((${#failed[@]})); then
  log "failing: ${failed[*]}"
  exit 1
fi
log "all ${#targets[@]} target(s) clean"
