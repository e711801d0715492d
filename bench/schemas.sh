#!/usr/bin/env bash
# What encoding with a registry schema costs: records per second through a `body = "records"`
# route that sends JSON values as they are, against the same route with `value_schema` set
# (Avro, JSON Schema, Protobuf), same run, embedded cluster, embedded registry. Two more Avro
# routes encode in a filter: `avro-filter-host` with schema-validate asking the host (the
# `schemas` interface), `avro-filter-guest` with the avro-encode fixture doing it in the
# component with apache-avro.
#
# Each target: wrk -t2 -cCONNECTIONS for DURATION posting one body of RECORDS records, each
# value a ~150-byte order as JSON; every answer must be 200 (202 with MODE=async), and the records answered for are
# counted in records/s.
#
# Usage: bench/schemas.sh   Env: DURATION (5s), CONNECTIONS (8), RECORDS (100), MODE (sync:
#        answers after the broker's ack; async: once queued), TARGETS (json avro
#        json-schema protobuf avro-filter-host avro-filter-guest)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-5s}"
connections="${CONNECTIONS:-8}"
records="${RECORDS:-100}"
mode="${MODE:-sync}"
targets="${TARGETS:-json avro json-schema protobuf avro-filter-host avro-filter-guest}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
ensure_tools
build_release
wafka="${CARGO_TARGET_DIR:-$root/target}/release/wafka"

bench_tmp wafka-schemas
gw_port="$(free_port)"
admin_port="$(free_port)"
registry_port="$(free_port)"
"$root/scripts/build-filters.sh" "$tmp/filters.d" >&2
built="$root/filters/target/wasm32-wasip2/release"
cp "$built/schema_validate.wasm" "$tmp/filters.d/schema-validate.wasm"
cp "$built/avro_encode.wasm" "$tmp/filters.d/avro-encode.wasm"

cat >"$tmp/wafka.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"
admin_listen = "127.0.0.1:$admin_port"

[kafka]
brokers = "embedded"

[kafka.embedded]
topics = ["json", "avro", "json-schema", "protobuf", "avro-filter-host", "avro-filter-guest"]

[filters]
dir = "$tmp/filters.d"

[schema_registry]
listen = "127.0.0.1:$registry_port"
TOML
for t in json avro json-schema protobuf; do
  schema=""
  [ "$t" = json ] || schema="value_schema = {}"
  printf '\n[[routes]]\nname = "%s"\npath = "/v1/%s"\ntopic = "%s"\nbody = "records"\nmode = "%s"\n%s\n' \
    "$t" "$t" "$t" "$mode" "$schema" >>"$tmp/wafka.toml"
done

# The schemas, and the body: RECORDS records whose values fit all three.
python3 - "$tmp" "$records" "$mode" <<'PY'
import json, sys
tmp, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
avro = {"type": "record", "name": "Order", "namespace": "bench", "fields": [
    {"name": "id", "type": "string"}, {"name": "customer", "type": "string"},
    {"name": "qty", "type": "int"}, {"name": "price", "type": "double"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "note", "type": ["null", "string"], "default": None}]}
json_schema = {"type": "object", "required": ["id", "customer", "qty", "price"], "properties": {
    "id": {"type": "string"}, "customer": {"type": "string"}, "qty": {"type": "integer"},
    "price": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}},
    "note": {"type": ["null", "string"]}}}
proto = """syntax = "proto3"; package bench;
message Order { string id = 1; string customer = 2; int32 qty = 3; double price = 4;
  repeated string tags = 5; string note = 6; }"""
# The first schema registered gets id 1 (checked below): the fixture stamps it.
with open(f"{tmp}/wafka.toml", "a") as toml:
    toml.write(f"""
[[routes]]
name = "avro-filter-host"
path = "/v1/avro-filter-host"
topic = "avro-filter-host"
body = "records"
mode = "{mode}"
filters = [{{ name = "schema-validate", config = {{ subject = "avro-value", encode = true }} }}]

[[routes]]
name = "avro-filter-guest"
path = "/v1/avro-filter-guest"
topic = "avro-filter-guest"
body = "records"
mode = "{mode}"
filters = [{{ name = "avro-encode", config = {{ schema = {json.dumps(json.dumps(avro))}, id = 1 }} }}]
""")
for name, body in [("avro", {"schema": json.dumps(avro)}),
                   ("json-schema", {"schema": json.dumps(json_schema), "schemaType": "JSON"}),
                   ("protobuf", {"schema": proto, "schemaType": "PROTOBUF"})]:
    open(f"{tmp}/{name}.schema.json", "w").write(json.dumps(body))
values = [{"id": f"o-{i}", "customer": f"customer-{i % 17}", "qty": i % 9 + 1,
           "price": 12.5 + i, "tags": ["web", "eu", "priority"],
           "note": "leave at the door, ring twice, thank you very much"} for i in range(count)]
open(f"{tmp}/body.json", "w").write(json.dumps({"records": [{"value": v} for v in values]}))
open(f"{tmp}/post.lua", "w").write(f'''
local f = assert(io.open("{tmp}/body.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
response = function(status, headers, body)
  if status ~= 200 and status ~= 202 and not seen then
    seen = true
    local out = io.open("{tmp}/failure.txt", "w")
    out:write(status .. " " .. body)
    out:close()
  end
end
''')
PY

log "starting gateway on 127.0.0.1:$gw_port, registry on $registry_port"
RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/healthz" 2>/dev/null && break
  sleep 0.2
done
for t in avro json-schema protobuf; do
  curl -fsS -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data @"$tmp/$t.schema.json" "http://127.0.0.1:$registry_port/subjects/$t-value/versions" \
    >"$tmp/$t.id.json"
  cat "$tmp/$t.id.json" >&2
  echo >&2
done
grep -q '"id":1}' "$tmp/avro.id.json" || die "the Avro schema's id is not 1: the fixture's config says 1"

declare -A rps
for t in $targets; do
  curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' --data @"$tmp/body.json" \
    "http://127.0.0.1:$gw_port/v1/$t" || die "$t: the body is refused"
  log "$t: wrk -t2 -c$connections -d$duration POST /v1/$t"
  wrk -t2 -c"$connections" -d"$duration" -s "$tmp/post.lua" "http://127.0.0.1:$gw_port/v1/$t" \
    >"$tmp/wrk-$t.txt"
  sed 's/^/    /' "$tmp/wrk-$t.txt" >&2
  non2xx="$(wrk_non2xx "$tmp/wrk-$t.txt")"
  [ "${non2xx:-0}" -eq 0 ] || die "$t: $non2xx non-200 answers, the first: $(cat "$tmp/failure.txt")"
  requests="$(wrk_requests "$tmp/wrk-$t.txt")"
  secs="$(wrk_seconds "$tmp/wrk-$t.txt")"
  rps[$t]="$(awk -v n="$((requests * records))" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
done

echo
echo "| route | records/s | vs plain JSON |"
echo "|---|---:|---:|"
for t in $targets; do
  ratio="$(awk -v a="${rps[$t]}" -v b="${rps[json]:-${rps[$t]}}" 'BEGIN { printf "%.2f", a / b }')"
  printf '| %s | %s | %s |\n' "$t" "${rps[$t]}" "$ratio"
done
