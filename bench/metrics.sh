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
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
ensure_tools

build_release
wafka="${CARGO_TARGET_DIR:-$root/target}/release/wafka"
bench_tmp wafka-metrics
"$root/scripts/build-filters.sh" "$tmp/filters.d" >&2
write_load_files "$tmp"

run() { # on|off → "req/s p50 p99"
  local metrics=true gw admin
  [ "$1" = off ] && metrics=false
  gw="$(free_port)"; admin="$(free_port)"
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
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$admin/healthz" && break; sleep 0.1; done
  local code expect=200
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/metrics")"
  [ "$metrics" = false ] && expect=404
  [ "$code" = "$expect" ] || { echo "metrics=$metrics: /metrics answered $code" >&2; exit 1; }
  local url="http://127.0.0.1:$gw/v1/events/web"
  wrk -t2 -c64 -d"$warmup" -s "$tmp/post.lua" "$url" >/dev/null
  wrk -t2 -c64 -d"$duration" --latency -s "$tmp/post.lua" "$url" >"$tmp/wrk.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true
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
