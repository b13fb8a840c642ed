#!/usr/bin/env bash
# Fan-out benchmark of the release build on loopback: N subscribers on one channel, M API
# publications; prints delivered/s, latency percentiles, server CPU per delivery and RSS per
# connection. Uses the shared load generator (../shared/peers/tools/fanout-bench.js).
#   scripts/bench.sh [--n=1000] [--m=1000] [--workers=1] [any other fanout-bench option]
# LUCENT_WORKERS sets the server's event loops (default 1, the figure compared with peers).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${LUCENT_BENCH_TOOLS:-$root/../shared/peers/tools}"
bin="${LUCENT_BIN:-$root/build/lucent}"
[ -x "$bin" ] || { echo "bench: $bin not built (make build)" >&2; exit 1; }
[ -f "$tools/fanout-bench.js" ] || { echo "bench: load generator not found in $tools" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/bench.json" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $port},
  "workers": ${LUCENT_WORKERS:-1},
  "log": {"level": "warn"},
  "health": {"enabled": true},
  "client": {"insecure": true, "queue_max_size": 8388608},
  "http_api": {"key": "bench-key"},
  "channel": {"without_namespace": {"allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true}}
}
JSON
ulimit -n 20000 2>/dev/null || true
"$bin" -c "$dir/bench.json" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.05
done
"$tools/run.sh" fanout-bench.js --proto=centrifugo \
  --ws="ws://127.0.0.1:$port/connection/websocket" \
  --pub-url="http://127.0.0.1:$port/api/publish" --apikey=bench-key --pid="$pid" "$@"
