#!/usr/bin/env bash
# Cost of metrics on the hot path: the same gateway with `server.metrics = true` (a Prometheus
# recorder counts every request, filter call and delivery) and `false` (no recorder: the
# metrics calls are no-ops), one after the other in the same run, alternating on/off/on/off to
# cancel drift. Route: sync, json-enrich + topic-router, 1 KiB JSON, wrk -t2 -c64.
#
# Usage: bench/metrics.sh     Env: DURATION (default 8s), WARMUP (2s)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-8s}"
warmup="${WARMUP:-2s}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

(cd "$root" && cargo build --release -p wafka) >&2
wafka="${CARGO_TARGET_DIR:-$root/target}/release/wafka"
tmp="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
"$root/scripts/build-filters.sh" "$tmp/filters.d" >&2

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
prefix='{"event":"page_view","user":"u-1234","pad":"'
pad=$((1024 - ${#prefix} - 2))
printf '%s%s"}' "$prefix" "$(head -c "$pad" /dev/zero | tr '\0' x)" >"$tmp/body.json"
cat >"$tmp/post.lua" <<LUA
local f = assert(io.open("$tmp/body.json", "rb"))
wrk.method = "POST"; wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json"
LUA

run() { # on|off → "req/s p50 p99"
  local metrics=true gw admin
  [ "$1" = off ] && metrics=false
  gw="$(port)"; admin="$(port)"
  cat >"$tmp/wafka.toml" <<TOML
[server]
listen = "127.0.0.1:$gw"
admin_listen = "127.0.0.1:$admin"
metrics = $metrics
[kafka.embedded]
topics = ["events.web"]
[filters]
dir = "$tmp/filters.d"
[[routes]]
name = "events"
path = "/v1/events/{source}"
topic = "events"
filters = [
  { name = "json-enrich" },
  { name = "topic-router", config = { param = "source", template = "events.{}", allow = ["events.web"] } },
]
TOML
  RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>>"$tmp/gateway.log" &
  pid=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$admin/healthz" && break; sleep 0.1; done
  local code expect=200
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/metrics")"
  [ "$metrics" = false ] && expect=404
  [ "$code" = "$expect" ] || { echo "metrics=$metrics: /metrics answered $code" >&2; exit 1; }
  local url="http://127.0.0.1:$gw/v1/events/web"
  wrk -t2 -c64 -d"$warmup" -s "$tmp/post.lua" "$url" >/dev/null
  wrk -t2 -c64 -d"$duration" --latency -s "$tmp/post.lua" "$url" >"$tmp/wrk.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  if grep -q "Non-2xx" "$tmp/wrk.txt"; then cat "$tmp/wrk.txt" >&2; exit 1; fi
  awk '/^Requests\/sec:/ {r=$2} $1=="50%" {a=$2} $1=="99%" {b=$2} END {print r, a, b}' "$tmp/wrk.txt"
}

echo "| round | metrics | req/s | p50 | p99 |"
echo "|---|---|---:|---:|---:|"
declare -A sum=([on]=0 [off]=0)
for round in 1 2; do
  for mode in on off; do
    read -r rps p50 p99 < <(run "$mode")
    echo "| $round | $mode | $rps | $p50 | $p99 |"
    sum[$mode]="$(python3 -c "print(${sum[$mode]} + $rps)")"
  done
done
python3 - "${sum[on]}" "${sum[off]}" <<'PY'
import sys
on, off = float(sys.argv[1]) / 2, float(sys.argv[2]) / 2
print(f"\nmean req/s: metrics on {on:.0f}, off {off:.0f}; off/on = {off / on:.3f}")
PY
