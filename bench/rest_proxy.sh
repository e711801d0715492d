#!/usr/bin/env bash
# REST Proxy API throughput: records per second produced through the Confluent REST Proxy
# endpoints, beside Wafka's own batch route and a plain rdkafka producer, same broker, same run.
#
# Broker: tansu (a Kafka-protocol broker, in memory), started here. Targets:
#   (a) batch route     POST /v1/batch                 body = "records", 100 × ~1 KiB values (wrk)
#   (b) REST v2         POST /topics/rp-v2             the same body as vnd.kafka.json.v2+json (wrk)
#   (c) REST v3 stream  POST /v3/clusters/C/topics/rp-v3/records   STREAMS connections, each one
#                       chunked body of STREAM_RECORDS records, a report per record
#                       (bench/src/bin/v3-stream.rs)
#   (d) plain rdkafka producer (bench/src/bin/plain-producer.rs), gateway's producer defaults
#
# After each target the topic is counted: it must hold every record acknowledged.
# Usage: bench/rest_proxy.sh   Env: DURATION (5s), CONNECTIONS (8), STREAMS (8),
#        STREAM_RECORDS (12500), RECORDS (200000, baseline count), WAFKA (the gateway binary
#        to measure, default this tree's; e.g. an older commit's build, to compare)
# Short runs: tansu (in memory) stops acknowledging for seconds once it holds a few million
# records, which opens the breaker; the targets then measure tansu, not the gateway.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-5s}"
connections="${CONNECTIONS:-8}"
streams="${STREAMS:-8}"
stream_records="${STREAM_RECORDS:-12500}"
baseline_records="${RECORDS:-200000}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
ensure_tools

build_release
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wafka="${WAFKA:-$target_dir/release/wafka}"
plain_producer="$target_dir/release/plain-producer"
v3_stream="$target_dir/release/v3-stream"

bench_tmp wafka-rest-proxy
gw_port="$(free_port)"
admin_port="$(free_port)"

start_tansu batch rp-v2 rp-v3 plain

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
topic = "batch"
body = "records"

[rest_proxy]
TOML

# 100 records, each value a ~1 KiB JSON object: the same body for the batch route and v2.
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
value = {"event": "page_view", "pad": "x" * 990}
body = json.dumps({"records": [{"key": f"u-{i}", "value": value} for i in range(100)]})
open(f"{tmp}/batch.json", "w").write(body)
for name, ctype in [("batch", "application/json"), ("v2", "application/vnd.kafka.json.v2+json")]:
    open(f"{tmp}/{name}.lua", "w").write(f'''
local f = assert(io.open("{tmp}/batch.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "{ctype}"
-- The first failure's answer, for the error message.
response = function(status, headers, body)
  if status >= 300 and not seen then
    seen = true
    local out = io.open("{tmp}/{name}-failure.txt", "w")
    out:write(status .. " " .. body)
    out:close()
  end
end
''')
PY

log "starting gateway on 127.0.0.1:$gw_port"
RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/healthz" 2>/dev/null && break
  sleep 0.2
done

declare -A rps desc
desc[batch]="(a) batch route, 100-record batches"
desc[v2]="(b) REST Proxy v2 produce, 100-record batches"
desc[v3]="(c) REST Proxy v3 streaming, $streams streams × $stream_records records"
desc[baseline]="(d) plain rdkafka producer"

count() { "$plain_producer" count "$bootstrap" "$1" | awk '{print $2}'; }

for target in batch v2; do
  path="/v1/batch"; topic="batch"
  [ "$target" = v2 ] && { path="/topics/rp-v2"; topic="rp-v2"; }
  log "$target: wrk -t2 -c$connections -d$duration POST $path"
  wrk -t2 -c"$connections" -d"$duration" -s "$tmp/$target.lua" "http://127.0.0.1:$gw_port$path" \
    >"$tmp/wrk-$target.txt"
  sed 's/^/    /' "$tmp/wrk-$target.txt" >&2
  non2xx="$(wrk_non2xx "$tmp/wrk-$target.txt")"
  [ "${non2xx:-0}" -eq 0 ] || die "$target: $non2xx non-2xx answers, the first: $(cat "$tmp/$target-failure.txt")"
  requests="$(wrk_requests "$tmp/wrk-$target.txt")"
  secs="$(wrk_seconds "$tmp/wrk-$target.txt")"
  accepted=$((requests * 100))
  in_kafka="$(count "$topic")"
  log "$target: $accepted records answered 200, $in_kafka in Kafka"
  [ "$in_kafka" -ge "$accepted" ] || die "$target: $accepted acknowledged but only $in_kafka in Kafka"
  rps[$target]="$(awk -v n="$accepted" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
done

cluster="$(curl -fsS "http://127.0.0.1:$gw_port/v3/clusters" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["cluster_id"])')"
log "v3: $streams streams × $stream_records records to /v3/clusters/$cluster/topics/rp-v3/records"
"$v3_stream" "http://127.0.0.1:$gw_port/v3/clusters/$cluster/topics/rp-v3/records" \
  "$streams" "$stream_records" 1024 >"$tmp/v3.txt"
sed 's/^/    /' "$tmp/v3.txt" >&2
ok="$(awk '$1 == "ok" {print $2}' "$tmp/v3.txt")"
failed="$(awk '$1 == "failed" {print $2}' "$tmp/v3.txt")"
[ "$failed" -eq 0 ] || die "v3: $failed records reported failed"
in_kafka="$(count rp-v3)"
[ "$in_kafka" -eq "$ok" ] || die "v3: $ok reported produced, $in_kafka in Kafka"
rps[v3]="$(awk '$1 == "records/s" {print $2}' "$tmp/v3.txt")"

log "baseline: $baseline_records records"
rps[baseline]="$("$plain_producer" produce "$bootstrap" plain "$baseline_records" 1024 | awk '{print $2}')"
in_kafka="$(count plain)"
[ "$in_kafka" -eq "$baseline_records" ] || die "baseline: $in_kafka of $baseline_records in Kafka"

echo
echo "| target | records/s | vs batch route | vs plain producer |"
echo "|---|---:|---:|---:|"
for name in batch v2 v3 baseline; do
  vs_batch="$(awk -v a="${rps[$name]}" -v b="${rps[batch]}" 'BEGIN { printf "%.2f", a / b }')"
  vs_plain="$(awk -v a="${rps[$name]}" -v b="${rps[baseline]}" 'BEGIN { printf "%.2f", a / b }')"
  printf '| %s | %s | %s | %s |\n' "${desc[$name]}" "${rps[$name]}" "$vs_batch" "$vs_plain"
done
