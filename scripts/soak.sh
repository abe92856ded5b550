#!/usr/bin/env bash
# A soak run: three helloworld nodes registered in a private etcd on loopback, a driver calling
# them through the registry (micro's client, its default retries) at a steady rate for a bounded
# time, and one node restarted every minute: SIGTERM, graceful drain, exit, start again. Nodes 2
# and 3 take turns; node 1 is never restarted, so it and the driver live the whole run and their
# RSS (VmRSS from /proc, every few seconds) must stay flat.
#
#   scripts/soak.sh                          # 30 minutes at 200 calls/s
#   scripts/soak.sh --minutes 3 --out /tmp/soak-3m
#
#   --minutes N        how long the load runs (default 30)
#   --restart-every S  seconds between restarts (default 60)
#   --rate R           calls started per second (default 200)
#   --concurrency C    most calls in flight (default 16)
#   --sample-every S   seconds between RSS samples (default 5)
#   --warmup S         first seconds left out of the RSS slope (default 60)
#   --max-slope K      largest RSS slope allowed, KiB/min (default 64, see below)
#   --out DIR          logs, rss.csv and restarts.csv (default: a new directory under /tmp)
#   --no-build         use the soak binary already built (target/release/soak)
#
# It exits 0 only if no call failed, every restart was clean (exit 0 within the shutdown
# timeout, registered again) and the RSS slope of node 1 and of the driver is at most
# --max-slope. The slope is a least-squares fit over the samples after the warm-up. 64 KiB/min
# is ~1.9 MiB over a 30-minute run, an eighth of a node's RSS (~15 MiB): a leak of 6 bytes per
# call at the default rate, or of 64 KiB per restart, fails it; allocator noise after warm-up
# does not (30-minute runs measured +1 to +10 KiB/min). A fit shorter than 5 minutes is
# reported, not judged: allocator steps swing it by ±100 KiB/min. Nor is etcd's RSS judged.
#
# Everything listens on 127.0.0.1; every process started here is stopped on exit. Recorded runs:
# RELIABILITY.md ("Soak").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${MICRO_CACHE_DIR:-$HOME/.cache/micro-rs}/target}

minutes=30 restart_every=60 rate=200 concurrency=16 sample_every=5 warmup=60 max_slope=64
out="" build=1
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
number() { [[ $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "soak.sh: $1 needs a number, not '$2'" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) number "$1" "${2:-}"; minutes=$2; shift 2 ;;
    --restart-every) number "$1" "${2:-}"; restart_every=$2; shift 2 ;;
    --rate) number "$1" "${2:-}"; rate=$2; shift 2 ;;
    --concurrency) number "$1" "${2:-}"; concurrency=$2; shift 2 ;;
    --sample-every) number "$1" "${2:-}"; sample_every=$2; shift 2 ;;
    --warmup) number "$1" "${2:-}"; warmup=$2; shift 2 ;;
    --max-slope) number "$1" "${2:-}"; max_slope=$2; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    *) echo "soak.sh: unknown option $1" >&2; usage ;;
  esac
done
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
restart_every=${restart_every%.*} sample_every=${sample_every%.*} warmup=${warmup%.*}
if [ "$seconds" -le 0 ] || [ "$restart_every" -le 0 ] || [ "$sample_every" -le 0 ]; then
  echo "soak.sh: --minutes, --restart-every and --sample-every must be above 0" >&2
  exit 2
fi
shutdown_timeout=10   # the nodes' --server-shutdown-timeout, seconds
min_fit=300           # seconds of samples (after the warm-up) a judged RSS slope needs

log() { printf '\033[1msoak.sh:\033[0m %s\n' "$*" >&2; }
now() { local t=$EPOCHREALTIME; echo "${t%.*}"; }

if [ "$build" = 1 ]; then
  log "building the soak binary (release)"
  (cd "$root" && cargo build --release --locked -p micro-benches --bin soak)
fi
built=$CARGO_TARGET_DIR/release/soak
[ -x "$built" ] || { echo "soak.sh: $built is missing; run without --no-build" >&2; exit 2; }
[ -n "$out" ] || out=$(mktemp -d /tmp/soak.XXXXXX)
mkdir -p "$out"
# The run starts nodes from its own copy, so a build during the run changes nothing in it.
bin=$out/soak
cp "$built" "$bin"
echo "t_s,process,pid,rss_kib" > "$out/rss.csv"
echo "t_s,node,old_pid,exit,drain_s,new_pid,registered_s" > "$out/restarts.csv"

# Every process started here, stopped on exit: SIGTERM, up to 15 s, then SIGKILL.
etcd_holder="" etcd_pid="" driver=""
declare -a node=("" "" "" "")
cleanup() {
  local pids=() pid deadline
  for pid in "$driver" "${node[1]}" "${node[2]}" "${node[3]}" "$etcd_holder"; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && pids+=("$pid")
  done
  [ ${#pids[@]} -gt 0 ] && { kill -TERM "${pids[@]}" 2>/dev/null || true; }
  deadline=$(( $(now) + 15 ))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$(now)" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  # etcd runs in a process group of its own; its holder kills it, this makes sure.
  [ -n "$etcd_pid" ] && { kill -KILL -- "-$etcd_pid" 2>/dev/null || true; }
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls (every 0.2 s, up to $2 seconds) until the command in $3… succeeds.
wait_for() {
  local what=$1 limit=$2 deadline
  shift 2
  deadline=$(( $(now) + limit ))
  until "$@"; do
    [ "$(now)" -lt "$deadline" ] || { log "no $what within ${limit}s"; return 1; }
    sleep 0.2
  done
}

# etcd, through micro-test-support (temporary data directory, free ports, ready when healthy).
"$bin" etcd > "$out/etcd.log" 2>&1 &
etcd_holder=$!
wait_for "etcd" 40 grep -q '^etcd ' "$out/etcd.log" || { cat "$out/etcd.log" >&2; exit 1; }
etcd=$(awk '/^etcd / { print $2; exit }' "$out/etcd.log")
etcd_pid=$(cat /proc/"$etcd_holder"/task/*/children 2>/dev/null | awk '{ print $1; exit }')
log "etcd on $etcd (pid ${etcd_pid:-?}); output in $out"

registrations() { local count; count=$(grep -c ' registered' "$out/node$1.log" 2>/dev/null); echo "${count:-0}"; }
has_registered() { [ "$(registrations "$1")" -gt "$2" ]; }

# Starts node $1 and waits until it has registered once more.
start_node() {
  local i=$1 before
  before=$(registrations "$i")
  MICRO_LOG_LEVEL=info "$bin" node --registry etcd --registry-address "$etcd" \
    --server-address 127.0.0.1:0 --server-shutdown-timeout "${shutdown_timeout}s" \
    >> "$out/node$i.log" 2>&1 &
  node[i]=$!
  wait_for "registration of node $i" 30 has_registered "$i" "$before"
}
for i in 1 2 3; do start_node "$i"; done
log "nodes ${node[1]}, ${node[2]}, ${node[3]} registered"

# The driver: status lines on stdout (shown and kept), failures on stderr (kept).
"$bin" drive --seconds "$seconds" --rate "$rate" --concurrency "$concurrency" \
  --registry etcd --registry-address "$etcd" > >(tee "$out/driver.log") 2> "$out/driver.err" &
driver=$!
started=$(now)
log "driver $driver: ${minutes} min at $rate calls/s, $concurrency in flight; a restart every ${restart_every}s"

sample() {
  local t=$1 name pid rss
  for name in node1 node2 node3 driver etcd; do
    case $name in
      node*) pid=${node[${name#node}]} ;;
      driver) pid=$driver ;;
      etcd) pid=$etcd_pid ;;
    esac
    [ -n "$pid" ] || continue
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "$t,$name,$pid,$rss" >> "$out/rss.csv"
  done
  return 0
}

# Restarts node $1: SIGTERM, wait for its exit (the shutdown timeout and 10 s more), start it
# again and wait for its registration. Returns 1 if the node exited unclean or late.
bad_restarts=0
restart_node() {
  local i=$1 t=$2 old=${node[$1]} from code=0 drained clean=0 deadline up
  from=$EPOCHREALTIME
  kill -TERM "$old"
  deadline=$(( $(now) + shutdown_timeout + 10 ))
  while kill -0 "$old" 2>/dev/null && [ "$(now)" -lt "$deadline" ]; do sleep 0.05; done
  if kill -0 "$old" 2>/dev/null; then
    log "node $i ($old) did not exit within $((shutdown_timeout + 10))s; killing it"
    kill -KILL "$old" 2>/dev/null || true
    clean=1
  fi
  wait "$old" || code=$?
  drained=$(awk -v a="$from" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  [ "$code" = 0 ] || clean=1
  from=$EPOCHREALTIME
  start_node "$i" || clean=1
  up=$(awk -v a="$from" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  echo "$t,node$i,$old,$code,$drained,${node[$i]},$up" >> "$out/restarts.csv"
  log "t=${t}s restarted node $i: pid $old exited $code after ${drained}s; pid ${node[$i]} registered after ${up}s"
  return $clean
}

# The run: sample, restart on schedule, until the driver exits (bounded by its duration + 2 min).
restarts=0 next_sample=0 next_restart=$restart_every victim=2
deadline=$(( started + seconds + 120 ))
while kill -0 "$driver" 2>/dev/null; do
  t=$(( $(now) - started ))
  if [ "$(now)" -gt "$deadline" ]; then
    log "the driver outlived its ${seconds}s by 2 minutes; stopping it"
    kill -TERM "$driver"
    break
  fi
  if [ "$t" -ge "$next_sample" ]; then
    sample "$t"
    next_sample=$(( t + sample_every ))
  fi
  if [ "$t" -ge "$next_restart" ] && [ "$next_restart" -le $(( seconds - 10 )) ]; then
    restart_node "$victim" "$t" || bad_restarts=$((bad_restarts + 1))
    restarts=$((restarts + 1))
    victim=$(( victim == 2 ? 3 : 2 ))
    next_restart=$(( next_restart + restart_every ))
  fi
  sleep 0.5
done
driver_code=0
wait "$driver" || driver_code=$?
sleep 0.2   # tee writes the driver's last lines

# Least-squares slope (KiB/min) of each process's samples after the warm-up.
slopes() {
  awk -F, -v warmup="$warmup" -v max="$max_slope" -v min_fit="$min_fit" '
    NR > 1 && $1 >= warmup {
      n[$2]++; sx[$2] += $1; sy[$2] += $4; sxx[$2] += $1 * $1; sxy[$2] += $1 * $4
      if (!($2 in first)) { first[$2] = $4; from[$2] = $1 }
      last[$2] = $4; to[$2] = $1
    }
    END {
      split("node1 driver etcd", names, " ")
      for (k = 1; k <= 3; k++) {
        p = names[k]
        judged = p == "etcd" ? "reported only" : "limit " max
        if (n[p] < 3) { printf "%-6s samples=%d  too few after the %ds warm-up: not judged\n", p, n[p], warmup; continue }
        d = n[p] * sxx[p] - sx[p] * sx[p]
        slope = d == 0 ? 0 : (n[p] * sxy[p] - sx[p] * sy[p]) / d * 60
        verdict = p == "etcd" ? "" : (slope > max ? "  TOO STEEP" : "  ok")
        if (p != "etcd" && to[p] - from[p] < min_fit) { judged = "not judged: fit of " to[p] - from[p] "s < " min_fit "s"; verdict = "" }
        printf "%-6s samples=%d  start=%d KiB  end=%d KiB  slope=%+.1f KiB/min (%s)%s\n", p, n[p], first[p], last[p], slope, judged, verdict
      }
    }' "$out/rss.csv"
}

summary=$(grep '^summary:' "$out/driver.log" || echo "summary: (none: the driver did not finish)")
{
  echo "soak: $(date -u +%Y-%m-%dT%H:%M:%SZ), scripts/soak.sh --minutes $minutes --restart-every $restart_every --rate $rate --concurrency $concurrency --sample-every $sample_every --warmup $warmup --max-slope $max_slope"
  echo "driver: $summary (exit $driver_code)"
  grep '^error:' "$out/driver.log" || true
  echo "restarts: $restarts ($bad_restarts unclean); see restarts.csv"
  slopes
  echo "node warnings/errors: $(cat "$out"/node*.log | grep -cE ' (WARN|ERROR) ' || true)"
  echo "output: $out"
} | tee "$out/summary.txt"

failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<< "$summary")
bad_slopes=$(slopes | grep -cE '^(node1|driver) .*TOO STEEP' || true)
if [ "$driver_code" != 0 ] || [ "${failed:-1}" != 0 ] || [ "$bad_restarts" != 0 ] || [ "$bad_slopes" != 0 ]; then
  log "FAILED: driver exit $driver_code, failed calls ${failed:-?}, unclean restarts $bad_restarts, RSS slopes over the limit $bad_slopes"
  exit 1
fi
log "passed"
