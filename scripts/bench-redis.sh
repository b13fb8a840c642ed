#!/usr/bin/env bash
# The fan-out benchmark (scripts/bench.sh) across two nodes on one Redis: subscribers on node A,
# API publications through node B, so every delivery crosses Redis. Prints what fanout-bench
# prints; the CPU per delivery sums both nodes and redis-server (all given to --pid).
#   scripts/bench-redis.sh [--n=1000] [--m=1000] [any other fanout-bench option]
# LUCENT_WORKERS sets each node's event loops (default 1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${LUCENT_BENCH_TOOLS:-$root/../shared/peers/tools}"
bin="${LUCENT_BIN:-$root/build/lucent}"
[ -x "$bin" ] || { echo "bench: $bin not built (make build)" >&2; exit 1; }
[ -f "$tools/fanout-bench.js" ] || { echo "bench: load generator not found in $tools" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "bench: redis-server not installed (scripts/deps.sh)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
rpid=$!
pids+=("$rpid")
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done

ulimit -n 20000 2>/dev/null || true
start_node() { # name port
  cat > "$dir/$1.json" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $2},
  "workers": ${LUCENT_WORKERS:-1},
  "log": {"level": "warn"},
  "health": {"enabled": true},
  "client": {"insecure": true, "queue_max_size": 8388608},
  "http_api": {"key": "bench-key"},
  "engine": {"type": "redis", "redis": {"address": "127.0.0.1:$rport", "prefix": "bench"}},
  "channel": {"without_namespace": {"allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true}}
}
JSON
  "$bin" -c "$dir/$1.json" 2>"$dir/$1.log" &
  pids+=("$!")
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$2/health" >/dev/null 2>&1 && break
    sleep 0.05
  done
}
pa=$(free_port)
start_node a "$pa"
apid=${pids[-1]}
pb=$(free_port)
start_node b "$pb"
bpid=${pids[-1]}
"$tools/run.sh" fanout-bench.js --proto=centrifugo \
  --ws="ws://127.0.0.1:$pa/connection/websocket" \
  --pub-url="http://127.0.0.1:$pb/api/publish" --apikey=bench-key --pid="$apid,$bpid,$rpid" "$@"
