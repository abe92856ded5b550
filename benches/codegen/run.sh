#!/usr/bin/env bash
# Codegen benchmark (#26): protoc-gen-micro against protoc-gen-prost + protoc-gen-tonic on one
# generated .proto of 200 services, timed with hyperfine. Run through `scripts/bench.sh codegen`.
#
#   benches/codegen/run.sh [--services 200] [--seed 26] [--runs 10] [--keep]
#
# Needs protoc, hyperfine and python3. Builds protoc-gen-micro in release, installs
# protoc-gen-prost and protoc-gen-tonic from crates.io into $cache/codegen-tools if missing, and
# times, on the same proto in the same hyperfine run:
#   protoc alone      protoc writing the descriptor set (with source info) it hands plugins: the floor
#   micro             protoc --micro_out (messages, handler traits, servers, clients, descriptors)
#   prost+tonic       protoc --prost_out --tonic_out (messages, tonic servers and clients)
#   prost+tonic+fds   the same with prost's file_descriptor_set, which micro always embeds
#   prost alone, tonic alone: the two halves (tonic with no_include, as no prost file is written)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
services=200 seed=26 runs=10 keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --services) services=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for tool in protoc hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "codegen benchmark needs $tool on PATH" >&2; exit 1; }
done

# The contenders' plugins. protoc-gen-prost/-tonic 0.5.0 are built on prost-build 0.14 and
# tonic-build 0.14, the versions the workspace uses.
prost_version=0.5.0 tonic_version=0.5.0
tools=$cache/codegen-tools
(cd "$root" && cargo build --release --locked -p protoc-gen-micro)
micro=$CARGO_TARGET_DIR/release/protoc-gen-micro
if ! "$tools/bin/protoc-gen-prost" --version </dev/null 2>/dev/null | grep -qx "$prost_version" ||
   ! "$tools/bin/protoc-gen-tonic" --version </dev/null 2>/dev/null | grep -qx "$tonic_version"; then
  CARGO_TARGET_DIR=$tools/target cargo install --locked --root "$tools" \
    "protoc-gen-prost@$prost_version" "protoc-gen-tonic@$tonic_version"
fi
prost=$tools/bin/protoc-gen-prost tonic=$tools/bin/protoc-gen-tonic

work=$(mktemp -d "${TMPDIR:-/tmp}/micro-codegen.XXXXXX")
if [ -z "$keep" ]; then trap 'rm -rf "$work"' EXIT; fi
python3 "$root/benches/codegen/gen_proto.py" "$work/proto" --services "$services" --seed "$seed" >/dev/null
proto=bench/v1/services.proto
mkdir -p "$work"/out/{floor,micro,prost-tonic,prost-tonic-fds,prost,tonic}
out=$work/out
p="protoc -I $work/proto"

echo "protoc: $(protoc --version); hyperfine: $(hyperfine --version)"
echo "protoc-gen-prost $prost_version, protoc-gen-tonic $tonic_version; protoc-gen-micro: $micro"
echo "proto: $(wc -l <"$work/proto/$proto") lines, $(grep -c '^service ' "$work/proto/$proto") services," \
  "$(grep -c '^ *rpc ' "$work/proto/$proto") rpcs, $(grep -c '^ *message ' "$work/proto/$proto") messages" \
  "(seed $seed); load: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine --warmup 2 --runs "$runs" --style basic --export-json "$work/times.json" \
  -n 'protoc alone' "$p --include_imports --include_source_info --descriptor_set_out=$out/floor/set.pb $proto" \
  -n micro "$p --plugin=protoc-gen-micro=$micro --micro_out=$out/micro $proto" \
  -n prost+tonic "$p --plugin=protoc-gen-prost=$prost --plugin=protoc-gen-tonic=$tonic --prost_out=$out/prost-tonic --tonic_out=$out/prost-tonic $proto" \
  -n prost+tonic+fds "$p --plugin=protoc-gen-prost=$prost --plugin=protoc-gen-tonic=$tonic --prost_out=$out/prost-tonic-fds --prost_opt=file_descriptor_set --tonic_out=$out/prost-tonic-fds $proto" \
  -n 'prost alone' "$p --plugin=protoc-gen-prost=$prost --prost_out=$out/prost $proto" \
  -n 'tonic alone' "$p --plugin=protoc-gen-tonic=$tonic --tonic_out=$out/tonic --tonic_opt=no_include $proto"

python3 - "$work/times.json" "$out" <<'EOF'
import json, os, sys
times = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
dirs = {"protoc alone": "floor", "micro": "micro", "prost+tonic": "prost-tonic",
        "prost+tonic+fds": "prost-tonic-fds", "prost alone": "prost", "tonic alone": "tonic"}
base = times["prost+tonic"]["median"]
def size(d):
    lines = nbytes = 0
    for dirpath, _, names in os.walk(os.path.join(sys.argv[2], d)):
        for n in names:
            data = open(os.path.join(dirpath, n), "rb").read()
            nbytes += len(data)
            lines += data.count(b"\n") if n.endswith(".rs") else 0
    return lines, nbytes
print()
print("| contender | median | mean ± σ | min | vs prost+tonic | output lines | output bytes |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, d in dirs.items():
    r = times[name]
    lines, nbytes = size(d)
    print(f"| {name} | {r['median']*1000:.0f} ms | {r['mean']*1000:.0f} ± {r['stddev']*1000:.0f} ms"
          f" | {r['min']*1000:.0f} ms | {r['median']/base:.2f}× | {lines:,} | {nbytes:,} |")
EOF
if [ -n "$keep" ]; then echo "kept: $work"; fi
