#!/usr/bin/env bash
# Reading through the gateway, against a plain rdkafka consumer reading the same topic in the
# same run. Broker: tansu (in memory), started here; (a) on the embedded cluster (see below).
#
#   (a) throughput   40,000 records of SIZE (256) bytes, as many as the embedded cluster keeps: a plain consumer reads them all, then one
#                    long-poll client reads them all through GET /v1/reads (500 per answer, the
#                    default), one through GET /v1/bulk (a route allowing 5,000), and one event
#                    stream from the earliest record (Accept: text/event-stream)
#   (b) fan-out      CLIENTS (1000) event streams on GET /v1/live while a producer sends
#                    RATE (100) records/s for RUN_SECONDS (20); latency = produced → event parsed
#                    by the client; the gateway's peak RSS and threads. On tansu, and again on
#                    the embedded cluster (latency only)
#   (c) stalled      STALLED (100) streams that never read a byte while RATE × 5 records/s flow
#                    for SECONDS: the gateway's RSS each second must stay flat
#
# Usage: bench/read.sh     Env: RECORDS, SIZE, CLIENTS, RATE, RUN_SECONDS, STALLED
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
records="${RECORDS:-40000}"
size="${SIZE:-256}"
clients="${CLIENTS:-1000}"
rate="${RATE:-100}"
seconds="${RUN_SECONDS:-20}"
stalled="${STALLED:-100}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
ensure_tools
ulimit -n 65536 2>/dev/null || ulimit -n 4096

build_release
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wafka="$target_dir/release/wafka"
plain="$target_dir/release/plain-producer"
readers="$target_dir/release/read-clients"

bench_tmp wafka-read
gw_port="$(free_port)"
admin_port="$(free_port)"

start_tansu live

mkdir -p "$tmp/filters.d"
cat >"$tmp/wafka.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"
admin_listen = "127.0.0.1:$admin_port"

[kafka]
brokers = "$bootstrap"

[filters]
dir = "$tmp/filters.d"

[[routes]]
name = "live"
path = "/v1/live"
topic = "live"
read = { max_streams = 5000 }
TOML

log "starting gateway on 127.0.0.1:$gw_port"
RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
gateway_pid=$!
pids+=("$gateway_pid")
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/healthz" 2>/dev/null && break
  sleep 0.2
done
status() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$gateway_pid/status"; }
readers_open() { curl -fsS "http://127.0.0.1:$admin_port/admin/streams" | grep -o '"kind"' | wc -l; }

# --- (a) throughput ----------------------------------------------------------------------------
# On a gateway of its own with the embedded cluster: tansu 0.6.0 answers a fetch from inside a
# record batch with the next batch, and the long-poll client's positions fall inside batches
# (tests/suite/read.rs, catching_up_through_large_batches_skips_nothing). The plain consumer
# reads from the same embedded cluster, so both pay for the same broker.
embedded_port="$(free_port)"
embedded_admin="$(free_port)"
cat >"$tmp/embedded.toml" <<TOML
[server]
listen = "127.0.0.1:$embedded_port"
admin_listen = "127.0.0.1:$embedded_admin"

[filters]
dir = "$tmp/filters.d"

[kafka.embedded]
topics = ["reads", "live"]

[[routes]]
name = "reads"
path = "/v1/reads"
topic = "reads"
read = { max_records = 500, max_bytes = 4194304 }

[[routes]]
name = "bulk"
path = "/v1/bulk"
topic = "reads"
read = { max_records = 5000, max_bytes = 4194304 }

[[routes]]
name = "live"
path = "/v1/live"
topic = "live"
read = { max_streams = 5000 }
TOML
log "starting a gateway on the embedded cluster"
RUST_LOG=info "$wafka" run --config "$tmp/embedded.toml" 2>"$tmp/embedded.log" >&2 &
embedded_pid=$!
pids+=("$embedded_pid")
embedded_bootstrap=""
for _ in $(seq 1 100); do
  embedded_bootstrap="$(grep -o 'bootstrap_servers=[0-9.:]*' "$tmp/embedded.log" | tail -n 1 | cut -d= -f2 || true)"
  [ -n "$embedded_bootstrap" ] && break
  sleep 0.2
done
[ -n "$embedded_bootstrap" ] || die "the embedded gateway did not start: $(tail -n 5 "$tmp/embedded.log")"
log "preloading $records records"
"$plain" produce "$embedded_bootstrap" reads "$records" "$size" >/dev/null
# The embedded cluster keeps a few MiB per partition: read what it kept.
records="$("$plain" count "$embedded_bootstrap" reads | awk '{print $2}')"
log "plain consumer ($records records kept)"
plain_rps="$("$plain" consume "$embedded_bootstrap" reads "$records" | awk '{print $2}')"
log "gateway long-poll client"
poll_out="$("$readers" poll "http://127.0.0.1:$embedded_port/v1/reads" "$records")"
poll_rps="$(awk '{print $2}' <<<"$poll_out")"
poll_first="$(awk '{print $4}' <<<"$poll_out")"
log "gateway long-poll client, 5,000 per answer"
bulk_rps="$("$readers" poll "http://127.0.0.1:$embedded_port/v1/bulk" "$records" | awk '{print $2}')"
log "gateway event stream from the earliest record"
stream_rps="$("$readers" catch-up "http://127.0.0.1:$embedded_port/v1/reads" "$records" | awk '{print $2}')"

# --- (b) fan-out -------------------------------------------------------------------------------
# fanout URL BOOTSTRAP ADMIN PID: sets events, p50, p99, rss_peak, threads_peak.
fanout() {
  local url="$1" to="$2" admin="$3" pid="$4"
  open_streams() { curl -fsS "http://127.0.0.1:$admin/admin/streams" | grep -o '"kind"' | wc -l; }
  log "fan-out: $clients streams on $url, $rate records/s for ${seconds}s"
  "$readers" sse "$url" "$clients" $((seconds + 15)) >"$tmp/sse.txt" &
  local sse_pid=$!
  for _ in $(seq 1 300); do
    [ "$(open_streams)" -ge "$clients" ] && break
    sleep 0.1
  done
  [ "$(open_streams)" -ge "$clients" ] || die "only $(open_streams) of $clients streams opened"
  "$plain" timed "$to" live "$rate" "$seconds" &
  local producer_pid=$!
  rss_peak=0
  threads_peak=0
  while kill -0 "$producer_pid" 2>/dev/null; do
    local rss threads
    rss="$(awk '$1 == "VmRSS:" {print $2}' "/proc/$pid/status")"
    threads="$(awk '$1 == "Threads:" {print $2}' "/proc/$pid/status")"
    [ "$rss" -gt "$rss_peak" ] && rss_peak="$rss"
    [ "$threads" -gt "$threads_peak" ] && threads_peak="$threads"
    sleep 1
  done
  wait "$sse_pid"
  events="$(awk '/^events/ {print $2}' "$tmp/sse.txt")"
  p50="$(awk '/latency_p50_ms/ {print $2}' "$tmp/sse.txt")"
  p99="$(awk '/latency_p99_ms/ {print $2}' "$tmp/sse.txt")"
}
fanout "http://127.0.0.1:$embedded_port/v1/live" "$embedded_bootstrap" "$embedded_admin" "$embedded_pid"
embedded_events="$events" embedded_p50="$p50" embedded_p99="$p99"
kill "$embedded_pid"
wait "$embedded_pid" 2>/dev/null || true

rss_idle="$(status VmRSS)"
fanout "http://127.0.0.1:$gw_port/v1/live" "$bootstrap" "$admin_port" "$gateway_pid"
expected=$((clients * rate * seconds))

# --- (c) stalled readers -----------------------------------------------------------------------
log "stalled: $stalled streams that never read, $((rate * 5)) records/s for ${seconds}s"
"$readers" stall "http://127.0.0.1:$gw_port/v1/live" "$stalled" $((seconds + 2)) >/dev/null &
stall_pid=$!
for _ in $(seq 1 100); do
  [ "$(readers_open)" -ge "$stalled" ] && break
  sleep 0.1
done
"$plain" timed "$bootstrap" live $((rate * 5)) "$seconds" &
producer_pid=$!
curve=()
while kill -0 "$producer_pid" 2>/dev/null; do
  curve+=("$(status VmRSS)")
  sleep 1
done
wait "$stall_pid" || true
stall_min="$(printf '%s\n' "${curve[@]}" | sort -n | head -n 1)"
stall_max="$(printf '%s\n' "${curve[@]}" | sort -n | tail -n 1)"

echo
echo "| measurement | value |"
echo "|---|---:|"
printf '| plain rdkafka consumer, %s records of %s bytes | %s records/s |\n' "$records" "$size" "$plain_rps"
printf '| gateway long-poll client (500 per answer) | %s records/s (%s of plain) |\n' "$poll_rps" \
  "$(awk -v a="$poll_rps" -v b="$plain_rps" 'BEGIN { printf "%.2f", a / b }')"
printf '| its first answer | %s ms |\n' "$poll_first"
printf '| gateway long-poll client (5,000 per answer) | %s records/s (%s of plain) |\n' "$bulk_rps" \
  "$(awk -v a="$bulk_rps" -v b="$plain_rps" 'BEGIN { printf "%.2f", a / b }')"
printf '| gateway event stream from the earliest record | %s records/s (%s of plain) |\n' "$stream_rps" \
  "$(awk -v a="$stream_rps" -v b="$plain_rps" 'BEGIN { printf "%.2f", a / b }')"
printf '| fan-out: %s streams × %s records/s × %ss | %s of %s events |\n' "$clients" "$rate" "$seconds" "$events" "$expected"
printf '| fan-out latency produce → client p50 / p99 | %s ms / %s ms |\n' "$p50" "$p99"
printf '| the same fan-out on the embedded cluster: events, p50 / p99 | %s of %s, %s ms / %s ms |\n' \
  "$embedded_events" "$expected" "$embedded_p50" "$embedded_p99"
printf '| gateway RSS idle / peak during fan-out | %s / %s MiB |\n' $((rss_idle / 1024)) $((rss_peak / 1024))
printf '| gateway threads, peak during fan-out | %s |\n' "$threads_peak"
printf '| %s stalled streams, RSS each second min / max | %s / %s MiB |\n' "$stalled" $((stall_min / 1024)) $((stall_max / 1024))
echo
echo "RSS each second with stalled streams (MiB): $(printf '%s ' "${curve[@]}" | awk '{for (i = 1; i <= NF; i++) printf "%d ", $i / 1024}')"
