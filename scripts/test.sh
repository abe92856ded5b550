#!/usr/bin/env bash
# Runs micro-rs's whole test suite on a fresh machine.
#
# It installs what the tests drive (idempotently and quietly): protoc, curl, etcd, nats-server,
# redis-server, PostgreSQL and Chromium from apt, Python grpcio in a venv, buf, Connect-ES and
# playwright-core from npm, and builds the Go peers from peers/ (grpc-go's interop programs);
# tells the tests where they are through MICRO_TEST_* variables; and
# makes a missing tool a failure (MICRO_TEST_REQUIRE_TOOLS=1) rather than a skipped test.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p micro        # extra arguments go to `cargo test`
#
# Caches live in $MICRO_CACHE_DIR (default ~/.cache/micro-rs): the cargo target dir, the venv
# and node_modules, so a second run is fast.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
mkdir -p "$cache"

log() { printf '\033[1mtest.sh:\033[0m %s\n' "$*" >&2; }

# Debian packages: protoc and the well-known-type protos (plugin tests drive real protoc; the
# etcd client crate builds with them), curl, etcd, unshare/ip for mDNS network namespaces,
# iptables (etcd partition drills drop a member's packets inside a namespace of their own; they
# need root), openssl (auth tests use keys it makes), and nats-server, redis-server and
# PostgreSQL (broker, events and store backends; tests start their own on loopback with
# temporary data), and Chromium with DejaVu fonts (the dashboard test drives the page in it with
# playwright-core).
install_apt() {
  local missing=()
  command -v protoc >/dev/null || missing+=(protobuf-compiler)
  [ -f /usr/include/google/protobuf/empty.proto ] || missing+=(libprotobuf-dev)
  command -v curl >/dev/null || missing+=(curl)
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v unshare >/dev/null || missing+=(util-linux)
  command -v ip >/dev/null || missing+=(iproute2)
  iptables_bin >/dev/null || missing+=(iptables)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v redis-server >/dev/null || missing+=(redis-server)
  postgres_bin >/dev/null || missing+=(postgresql)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]} with apt"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# iptables, which Debian keeps in /usr/sbin (off a normal user's PATH).
iptables_bin() {
  command -v iptables 2>/dev/null || { [ -x /usr/sbin/iptables ] && echo /usr/sbin/iptables; }
}

# The newest installed PostgreSQL server binary (Debian keeps it off PATH).
postgres_bin() {
  command -v postgres 2>/dev/null && return
  ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -1 | grep .
}

# Python grpcio, its code generator, health and reflection clients; the official MCP SDK (the
# client `micro mcp serve` is tested with); openapi-spec-validator and schemathesis (the
# gateway's /openapi.json is validated and fuzzed with them). Pinned.
install_python() {
  local venv=$cache/venv
  local want="grpcio==1.85.3 grpcio-tools==1.85.1 grpcio-health-checking==1.85.1 grpcio-reflection==1.85.1 mcp==2.3.0 \
openapi-spec-validator==0.9.0 schemathesis==4.32.5"
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
    log "installing Python grpcio into $venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $want
    echo "$want" > "$venv/.installed"
  fi
  export MICRO_TEST_PYTHON=$venv/bin/python
}

# buf (`buf generate` with our plugin, `buf curl`), and Connect-ES with its code generator.
install_node() {
  local dir=$cache/node
  local want="@bufbuild/buf@1.75.0 @bufbuild/protoc-gen-es@2.17.0 @bufbuild/protobuf@2.17.0 \
@connectrpc/connect@2.2.0 @connectrpc/connect-node@2.2.0 playwright-core@1.64.1"
  if [ "$(cat "$dir/.installed" 2>/dev/null)" != "$want" ]; then
    log "installing $want with npm"
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    npm install --prefix "$dir" --silent --no-audit --no-fund --no-save $want >/dev/null
    echo "$want" > "$dir/.installed"
  fi
  export MICRO_TEST_BUF=$dir/node_modules/.bin/buf
  export MICRO_TEST_NODE_MODULES=$dir/node_modules
}

# The Go peers (grpc-go's interop client and server, compression-interop, connectconformance),
# built from peers/ by scripts/build-peers.sh into the cache; offline once the modules are
# fetched.
build_go_peers() {
  if ! command -v go >/dev/null; then
    log "go not found: the Go peers are not built (interop tests will say so)"
    return
  fi
  MICRO_TEST_GO_PEERS=$("$root/scripts/build-peers.sh" | tail -1)
  export MICRO_TEST_GO_PEERS
}

install_apt
install_python
install_node
build_go_peers
export MICRO_TEST_PROTOC=$(command -v protoc)
export MICRO_TEST_ETCD_BIN=$(command -v etcd)
export MICRO_TEST_NATS_BIN=$(command -v nats-server)
export MICRO_TEST_REDIS_BIN=$(command -v redis-server)
export MICRO_TEST_POSTGRES_BIN=$(postgres_bin)
export MICRO_TEST_IPTABLES_BIN=$(iptables_bin)
export MICRO_TEST_CHROMIUM=/usr/bin/chromium
export MICRO_TEST_REQUIRE_TOOLS=1
# Tests read the info lines of the processes they start ("listening on …"); a log level from
# the caller's shell must not hide them.
unset RUST_LOG MICRO_LOG_LEVEL

cd "$root"
# Older copies of test binaries from other build configurations fill a development disk.
"$root/scripts/prune-target.sh" --if-below 30
log "cargo test (target dir $CARGO_TARGET_DIR)"
cargo test --workspace --all-features --locked "$@"
