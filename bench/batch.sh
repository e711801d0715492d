#!/usr/bin/env bash
# Batch throughput: records per second through the gateway in 100-record batches, beside a plain
# rdkafka producer sending records of the same size to the same broker in the same run.
#
# Broker: tansu (a Kafka-protocol broker, in memory), started here. Targets:
#   (a) gateway sync   POST /v1/batch        body = "records", 100 × ~1 KiB values, answers after acks
#   (b) gateway async  POST /v1/batch-async  same body, answers 202 once queued
#   (c) baseline plain-producer (bench/src/bin/plain-producer.rs): rdkafka with the gateway's
#       producer defaults (acks=all, idempotence, linger.ms=5), pipelining windows of 10 000
#
# Gateway load: wrk -t2 -cCONNECTIONS -dDURATION. After each target the topic is read back in
# full and its record count must equal what was acknowledged. Prints a markdown table with each
# target's records/s and its ratio to the baseline.
#
# Usage: bench/batch.sh     Env: DURATION (10s), CONNECTIONS (8), RECORDS (200000, baseline count)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-8}"
baseline_records="${RECORDS:-200000}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
ensure_tools

build_release
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wafka="$target_dir/release/wafka"
plain_producer="$target_dir/release/plain-producer"

bench_tmp wafka-batch
gw_port="$(free_port)"
admin_port="$(free_port)"

start_tansu batch-sync batch-async plain

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
name = "batch"
path = "/v1/batch"
topic = "batch-sync"
body = "records"

[[routes]]
name = "batch-async"
path = "/v1/batch-async"
topic = "batch-async"
mode = "async"
body = "records"
TOML

# 100 records, each value a ~1 KiB JSON object.
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
value = {"event": "page_view", "pad": "x" * 990}
body = json.dumps({"records": [{"key": f"u-{i}", "value": value} for i in range(100)]})
open(f"{tmp}/batch.json", "w").write(body)
open(f"{tmp}/post.lua", "w").write(f'''
local f = assert(io.open("{tmp}/batch.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
''')
PY

log "starting gateway on 127.0.0.1:$gw_port"
RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/healthz" 2>/dev/null && break
  sleep 0.2
done

declare -A rps desc refused full_before
desc[sync]="(a) gateway sync, 100-record batches"
desc[async]="(b) gateway async, 100-record batches"
desc[baseline]="(c) plain rdkafka producer"

count() { "$plain_producer" count "$bootstrap" "$1" | awk '{print $2}'; }

for mode in sync async; do
  path="/v1/batch"; topic="batch-sync"; route="batch"
  [ "$mode" = async ] && { path="/v1/batch-async"; topic="batch-async"; route="batch-async"; }
  log "$mode: wrk -t2 -c$connections -d$duration POST $path"
  wrk -t2 -c"$connections" -d"$duration" -s "$tmp/post.lua" "http://127.0.0.1:$gw_port$path" \
    >"$tmp/wrk-$mode.txt"
  sed 's/^/    /' "$tmp/wrk-$mode.txt" >&2
  non2xx="$(wrk_non2xx "$tmp/wrk-$mode.txt")"
  non2xx="${non2xx:-0}"
  # Back-pressure is allowed: past kafka.max_in_flight_records the gateway answers 503
  # queue_full at once (nothing produced). Any other failure fails the run.
  full="$(curl -fsS "http://127.0.0.1:$admin_port/metrics" | awk -v r="$route" '
    $1 ~ /^wafka_http_request_errors_total/ && index($1, "route=\"" r "\"") && index($1, "code=\"queue_full\"") { n += $2 }
    END { print n + 0 }')"
  full=$((full - ${full_before[$mode]:-0}))
  [ "$non2xx" -eq "$full" ] || { tail -n 20 "$tmp/gateway.log" >&2; die "$mode: $non2xx non-2xx answers, $full of them queue_full"; }
  refused[$mode]="$non2xx"
  requests="$(wrk_requests "$tmp/wrk-$mode.txt")"
  requests=$((requests - non2xx))
  secs="$(wrk_seconds "$tmp/wrk-$mode.txt")"
  accepted=$((requests * 100))
  # wrk stops mid-request: answers it did not read may still have been produced.
  in_kafka="$(count "$topic")"
  log "$mode: $accepted records answered 2xx, $in_kafka in Kafka"
  [ "$in_kafka" -ge "$accepted" ] || die "$mode: $accepted acknowledged but only $in_kafka in Kafka"
  [ "$in_kafka" -le $((accepted + connections * 100)) ] || die "$mode: $in_kafka in Kafka, more than sent"
  rps[$mode]="$(awk -v n="$accepted" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
done

log "baseline: $baseline_records records"
rps[baseline]="$("$plain_producer" produce "$bootstrap" plain "$baseline_records" 1024 | awk '{print $2}')"
in_kafka="$(count plain)"
[ "$in_kafka" -eq "$baseline_records" ] || die "baseline: $in_kafka of $baseline_records in Kafka"

echo
echo "| target | records/s | vs plain producer | batches refused 503 queue_full |"
echo "|---|---:|---:|---:|"
for name in sync async baseline; do
  ratio="$(awk -v a="${rps[$name]}" -v b="${rps[baseline]}" 'BEGIN { printf "%.2f", a / b }')"
  printf '| %s | %s | %s | %s |\n' "${desc[$name]}" "${rps[$name]}" "$ratio" "${refused[$name]:--}"
done
