#!/usr/bin/env bash
# Memory during a Kafka outage: clients keep sending while the broker is frozen (SIGSTOP), and
# the gateway's memory must stay bounded by kafka.max_in_flight_* instead of growing with the
# load. Measures the gateway's resident memory before, during (peak, VmHWM) and after, the
# answers it gave during the outage, and how long it took to become ready again.
#
# Broker: tansu (in memory), started here. Load: wrk -t2 -c32 with 1 KiB JSON bodies on an async
# route and a sync route at once. Phases: warm-up LOAD_SECS, outage OUTAGE_SECS (tansu stopped),
# recovery (tansu continued; wait for /readyz), then LOAD_SECS more, which must be all 2xx.
#
# Usage: bench/outage.sh    Env: OUTAGE_SECS (20), LOAD_SECS (5), MAX_IN_FLIGHT_MB (64)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
outage="${OUTAGE_SECS:-20}"
load="${LOAD_SECS:-5}"
bound_mb="${MAX_IN_FLIGHT_MB:-64}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
ensure_tools

build_release
wafka="${CARGO_TARGET_DIR:-$root/target}/release/wafka"

bench_tmp wafka-outage
gw_port="$(free_port)"
admin_port="$(free_port)"

start_tansu clicks orders

mkdir -p "$tmp/filters.d"
cat >"$tmp/wafka.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"
admin_listen = "127.0.0.1:$admin_port"

[kafka]
brokers = "$bootstrap"
max_in_flight_bytes = $((bound_mb << 20))

[filters]
dir = "$tmp/filters.d"

[[routes]]
name = "clicks"
path = "/v1/clicks"
topic = "clicks"
mode = "async"

[[routes]]
name = "orders"
path = "/v1/orders"
topic = "orders"
TOML
write_load_files "$tmp"

RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
gw_pid=$!
pids+=("$gw_pid")
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/readyz" 2>/dev/null && break
  sleep 0.2
done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$gw_pid/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$gw_pid/status"; }
# Both routes at once for SECS; leaves wrk output in $tmp/wrk-TAG-{clicks,orders}.txt.
run_load() { # TAG SECS
  local route load=()
  for route in clicks orders; do
    wrk -t1 -c16 -d"$2s" -s "$tmp/post.lua" "http://127.0.0.1:$gw_port/v1/$route" \
      >"$tmp/wrk-$1-$route.txt" &
    load+=($!)
  done
  wait "${load[@]}"
}
total() { awk '/requests in/ {print $1}' "$1"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF; f=1} END {if (!f) print 0}' "$1"; }

log "warm-up: ${load}s of load with Kafka up"
run_load warm "$load"
steady_kb="$(rss_kb)"

log "outage: tansu stopped for ${outage}s under load"
kill -STOP "$tansu_pid"
run_load outage "$outage" &
load_pid=$!
samples=()
while kill -0 "$load_pid" 2>/dev/null; do
  samples+=("$(rss_kb)")
  sleep 1
done
wait "$load_pid"
peak_kb="$(hwm_kb)"
status="$(curl -sS "http://127.0.0.1:$admin_port/admin/kafka")"

log "recovery: tansu continued"
kill -CONT "$tansu_pid"
started=$(date +%s.%N)
until curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$admin_port/readyz" 2>/dev/null; do
  sleep 0.1
done
recovered="$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
run_load after "$load"
after_bad=$(( $(non2xx "$tmp/wrk-after-clicks.txt") + $(non2xx "$tmp/wrk-after-orders.txt") ))
[ "$after_bad" -eq 0 ] || die "after recovery: $after_bad non-2xx answers"

echo
echo "RSS samples during the outage (MiB): $(printf '%s ' "${samples[@]}" | awk '{for (i=1;i<=NF;i++) printf "%d ", $i/1024}')"
echo "breaker at the end of the outage: $(printf '%s' "$status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["breaker"]["state"], "-", d["breaker"]["reason"])')"
echo
echo "| phase | requests | non-2xx | resident memory |"
echo "|---|---:|---:|---:|"
for phase in warm outage after; do
  req=$(( $(total "$tmp/wrk-$phase-clicks.txt") + $(total "$tmp/wrk-$phase-orders.txt") ))
  bad=$(( $(non2xx "$tmp/wrk-$phase-clicks.txt") + $(non2xx "$tmp/wrk-$phase-orders.txt") ))
  case $phase in
    warm) mem="$((steady_kb / 1024)) MiB (steady)" ;;
    outage) mem="$((peak_kb / 1024)) MiB (peak, VmHWM)" ;;
    after) mem="$(( $(rss_kb) / 1024 )) MiB" ;;
  esac
  printf '| %s | %s | %s | %s |\n' "$phase" "$req" "$bad" "$mem"
done
echo
awk -v p="$peak_kb" -v s="$steady_kb" -v b="$bound_mb" 'BEGIN {
  printf "peak / steady = %.2f; peak - steady = %d MiB against an in-flight bound of %d MiB\n", p / s, (p - s) / 1024, b }'
echo "ready again ${recovered}s after the broker resumed"
