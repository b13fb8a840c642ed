#!/usr/bin/env bash
# Lucent against Nchan, same load generator (build/lucent-bench), same machine, one run:
#   (a) 1,000 subscribers x 1,000 publications, flat out
#   (b) 1,000 subscribers at 50 and 200 publications/s (default config, and client.write_delay)
#   (c) 10,000 subscribers x 100 publications, flat out
#   (d) 19,000 idle subscribed connections (RSS per connection)
#   (e) 100 channels x 100 subscribers
#   (f) 2 workers against 1 on (a) and (c)
#   (m) memory returned: 100,000 channel subscriptions made and left (Lucent only)
# Prints one table (figures and Lucent/Nchan ratios); the raw JSON lines go to $OUT.jsonl.
#   scripts/bench-compare.sh [--runs=2] [--only=a,b,...] [--out=FILE] [--write-delay=20ms]
# Nchan is Debian's nginx + libnginx-mod-nchan, started from ../shared/peers/nchan/ (port 8101).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
peers="${LUCENT_PEERS:-$root/../shared/peers}"
bin="${LUCENT_BIN:-$root/build/lucent}"
gen="${LUCENT_BENCH:-$root/build/lucent-bench}"
runs=1 only="a,b,c,d,e,f,m" out="" wd="20ms"
for a in "$@"; do
  case "$a" in
    --runs=*) runs="${a#*=}" ;;
    --only=*) only="${a#*=}" ;;
    --out=*) out="${a#*=}" ;;
    --write-delay=*) wd="${a#*=}" ;;
    *) echo "usage: $0 [--runs=N] [--only=a,b,c,d,e,f,m] [--out=FILE] [--write-delay=20ms]" >&2; exit 2 ;;
  esac
done
want() { [[ ",$only," == *",$1,"* ]]; }
[ -x "$bin" ] && [ -x "$gen" ] || { echo "bench-compare: build first (make build)" >&2; exit 1; }

# Nchan: Debian packages, not needed by `make test`, so installed here rather than by deps.sh.
if [ ! -e /usr/lib/nginx/modules/ngx_nchan_module.so ] || ! command -v nginx >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench-compare: installing nginx and libnginx-mod-nchan (Debian) for the Nchan peer" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y nginx libnginx-mod-nchan >/dev/null
  else
    echo "bench-compare: Nchan is missing: run 'apt-get install -y nginx libnginx-mod-nchan' as root" >&2
    exit 1
  fi
fi
[ -x "$peers/nchan/start.sh" ] || { echo "bench-compare: $peers/nchan/start.sh not found (LUCENT_PEERS)" >&2; exit 1; }

work=$(mktemp -d)
export PEERS_RUN="$work/peers"
out="${out:-$work/results}"
: > "$out.jsonl"
lpid=""
cleanup() {
  [ -n "$lpid" ] && kill "$lpid" 2>/dev/null && wait "$lpid" 2>/dev/null
  "$peers/nchan/stop.sh" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_lucent WORKERS [WRITE_DELAY]: sets lpid and lport.
start_lucent() {
  stop_lucent
  lport=$(free_port)
  local client='"token": {"hmac_secret_key": "bench-secret"}, "queue_max_size": 67108864'
  [ -n "${2:-}" ] && client="$client, \"write_delay\": \"$2\""
  cat > "$work/lucent.json" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $lport, "max_connections": 19500},
  "workers": $1,
  "log": {"level": "warn"},
  "health": {"enabled": true},
  "client": {$client},
  "http_api": {"key": "bench-key"},
  "channel": {"without_namespace": {"allow_subscribe_for_client": true}}
}
JSON
  "$bin" -c "$work/lucent.json" 2>>"$work/lucent.log" &
  lpid=$!
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$lport/health" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "bench-compare: lucent did not start" >&2; cat "$work/lucent.log" >&2; exit 1
}
stop_lucent() {
  if [ -n "$lpid" ]; then kill "$lpid" 2>/dev/null || true; wait "$lpid" 2>/dev/null || true; lpid=""; fi
}
# start_nchan WORKERS: sets npids (comma-separated worker pids).
start_nchan() {
  "$peers/nchan/stop.sh" >/dev/null 2>&1 || true
  if curl -s -o /dev/null "http://127.0.0.1:8101/" 2>/dev/null; then
    echo "bench-compare: port 8101 is taken (another Nchan?); stop it first" >&2; exit 1
  fi
  npids=$("$peers/nchan/start.sh" "$1" | sed -n 's/^worker pids (for --pid): //p')
  [ -n "$npids" ] || { echo "bench-compare: nchan did not start" >&2; exit 1; }
  sleep 0.3
}

# run SCENARIO SERVER [generator options]: one JSON line per run, tagged.
run() {
  local sc="$1" srv="$2"; shift 2
  local args=("$@")
  if [[ "$srv" == lucent* ]]; then
    args+=(--ws="ws://127.0.0.1:$lport/connection/websocket" --pub="http://127.0.0.1:$lport/api/publish"
           --apikey=bench-key --token-secret=bench-secret --pid="$lpid")
  else
    args+=(--proto=nchan --pid="$npids")
  fi
  for r in $(seq "$runs"); do
    local line
    line=$(timeout 300 "$gen" --json "${args[@]}" 2>>"$work/gen.log") || true
    [ -n "$line" ] || { echo "bench-compare: $sc/$srv run $r failed (see generator log)" >&2; tail -3 "$work/gen.log" >&2; continue; }
    echo "{\"scenario\":\"$sc\",\"server\":\"$srv\",\"run\":$r,\"r\":$line}" >> "$out.jsonl"
    echo "  $sc $srv run $r: $(python3 "$root/scripts/bench-table.py" --line "$line")" >&2
  done
}

# The kernel floor: one single-threaded writer, one write() per 66-byte frame to 1,000 loopback
# sockets (../shared/peers/tools/loopback-fanout.c), measured in the same run as (b).
floor() {
  [ -x "$work/loopback-fanout" ] || cc -O2 -o "$work/loopback-fanout" "$peers/tools/loopback-fanout.c"
  for r in $(seq "$runs"); do
    local us
    us=$("$work/loopback-fanout" 1000 200 64 1 | sed -n 's/.*, \([0-9.]*\) us CPU\/write().*/\1/p')
    echo "{\"scenario\":\"floor\",\"server\":\"kernel\",\"run\":$r,\"r\":{\"us_per_write\":$us}}" >> "$out.jsonl"
    echo "  kernel floor run $r: $us us CPU per write()" >&2
  done
}

flat=(--pub-conns=4 --pipeline=16)
echo "bench-compare: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); results in $out.jsonl" >&2
want b && floor
for srv in lucent nchan; do
  if [ "$srv" = lucent ]; then start_lucent 1; else start_nchan 1; fi
  want a && run a "$srv" --n=1000 --m=1000 "${flat[@]}"
  if want b; then
    run b50 "$srv" --n=1000 --m=300 --rate=50
    run b200 "$srv" --n=1000 --m=1000 --rate=200
  fi
  want c && run c "$srv" --n=10000 --m=100 "${flat[@]}" --connconc=500
  want e && run e "$srv" --n=10000 --channels=100 --m=2000 "${flat[@]}" --connconc=500
  if want d; then
    # RSS per connection is measured from a fresh server (nothing freed before to reuse)
    if [ "$srv" = lucent ]; then start_lucent 1; else start_nchan 1; fi
    run d "$srv" --n=19000 --m=0 --procs=2 --connconc=200 --settle=2000
  fi
  if want b && [ "$srv" = lucent ]; then
    start_lucent 1 "$wd"
    run b50 lucent-wd --n=1000 --m=300 --rate=50
    run b200 lucent-wd --n=1000 --m=1000 --rate=200
  fi
  if want f; then
    if [ "$srv" = lucent ]; then start_lucent 2; else start_nchan 2; fi
    run a2 "$srv" --n=1000 --m=1000 "${flat[@]}" --threads=2
    run c2 "$srv" --n=10000 --m=100 "${flat[@]}" --threads=2 --connconc=500
    # the same generator shape against one worker, so the ratio is the server's
    if [ "$srv" = lucent ]; then start_lucent 1; else start_nchan 1; fi
    run a1 "$srv" --n=1000 --m=1000 "${flat[@]}" --threads=2
    run c1 "$srv" --n=10000 --m=100 "${flat[@]}" --threads=2 --connconc=500
  fi
  if want m && [ "$srv" = lucent ]; then
    start_lucent 1
    # 11 s: a worker trims 1 s after departures, but at most once per 10 s
    run m lucent --n=1000 --subs=100 --channels=100000 --m=0 --connconc=200 --after-close=11000
  fi
  stop_lucent
  "$peers/nchan/stop.sh" >/dev/null 2>&1 || true
done

echo "bench-compare: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 "$root/scripts/bench-table.py" "$out.jsonl" "$wd"
