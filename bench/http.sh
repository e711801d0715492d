#!/usr/bin/env bash
# HTTP produce-path throughput: the gateway's sync routes against a plain hyper server,
# measured in the same run with wrk on 127.0.0.1.
#
# Targets:
#   (a) events  POST /v1/events/web  sync, json-enrich + topic-router → events.web
#   (b) plain   POST /v1/plain       sync, no filters → events.web
#   (c) baseline plain-hyper (bench/src/bin/plain-hyper.rs): reads the body, answers 200
#
# Each target gets a 2 s warm-up, then `wrk -t2 -c64 -d10s --latency` with a 1 KiB JSON body.
# Prints a markdown table; throughput is also given as a ratio of the baseline, since absolute
# numbers depend on the machine (and here wrk, the gateway and its embedded mock broker all
# share the same cores).
#
# Usage: bench/http.sh            (from anywhere; needs cargo, curl; installs wrk with apt-get)
# Env:   DURATION (default 10s), WARMUP (default 2s), THREADS (2), CONNECTIONS (64)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-10s}"
warmup="${WARMUP:-2s}"
threads="${THREADS:-2}"
connections="${CONNECTIONS:-64}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# --- tools -----------------------------------------------------------------------------------
ensure_tools

# --- build -----------------------------------------------------------------------------------
log "building release binaries"
(cd "$root" && cargo build --release -p wafka -p wafka-bench)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wafka="$target_dir/release/wafka"
plain_hyper="$target_dir/release/plain-hyper"

bench_tmp wafka-bench

log "building filters"
"$root/scripts/build-filters.sh" "$tmp/filters.d" >&2

# --- ports, config, body ---------------------------------------------------------------------
gw_port="$(free_port)"
admin_port="$(free_port)"
base_port="$(free_port)"

cat >"$tmp/wafka.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"
admin_listen = "127.0.0.1:$admin_port"

[kafka]
brokers = "embedded"

[kafka.embedded]
topics = ["events.web"]

[filters]
dir = "$tmp/filters.d"

[[routes]]
name = "events"
path = "/v1/events/{source}"
methods = ["POST"]
topic = "events"
mode = "sync"
filters = [
  { name = "json-enrich" },
  { name = "topic-router", config = { param = "source", template = "events.{}", allow = ["events.web"] } },
]

[[routes]]
name = "plain"
path = "/v1/plain"
methods = ["POST"]
topic = "events.web"
mode = "sync"
TOML

write_load_files "$tmp"

# --- start servers ---------------------------------------------------------------------------
log "starting gateway on 127.0.0.1:$gw_port (admin $admin_port) and plain-hyper on $base_port"
RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
pids+=($!)
"$plain_hyper" "127.0.0.1:$base_port" 2>"$tmp/plain-hyper.log" >&2 &
pids+=($!)

wait_for() { # NAME URL
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null --max-time 1 "$2" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "--- gateway log ---" >&2; tail -n 30 "$tmp/gateway.log" >&2 || true
  die "$1 not ready after 20 s ($2)"
}
# healthz only needs a GET; the baseline answers 200 to anything.
wait_for gateway "http://127.0.0.1:$admin_port/healthz"
wait_for plain-hyper "http://127.0.0.1:$base_port/"

names=(events plain baseline)
declare -A url desc
url[events]="http://127.0.0.1:$gw_port/v1/events/web"
url[plain]="http://127.0.0.1:$gw_port/v1/plain"
url[baseline]="http://127.0.0.1:$base_port/"
desc[events]="(a) gateway sync, json-enrich + topic-router"
desc[plain]="(b) gateway sync, no filters"
desc[baseline]="(c) plain-hyper baseline"

# One request each before loading: the gateway must answer 200 (after the broker's ack).
for name in events plain; do
  code="$(curl -sS -o "$tmp/check.out" -w '%{http_code}' --max-time 10 -X POST \
    -H 'content-type: application/json' --data-binary "@$tmp/body.json" "${url[$name]}")"
  if [ "$code" != 200 ]; then
    cat "$tmp/check.out" >&2 || true
    tail -n 30 "$tmp/gateway.log" >&2 || true
    die "$name: gateway answered $code, not 200"
  fi
  log "$name: 200 $(cat "$tmp/check.out")"
done

# --- load ------------------------------------------------------------------------------------
declare -A rps p50 p99 errs
for name in baseline plain events; do
  log "$name: warm-up $warmup"
  wrk -t"$threads" -c"$connections" -d"$warmup" -s "$tmp/post.lua" "${url[$name]}" >/dev/null
  log "$name: wrk -t$threads -c$connections -d$duration --latency ${url[$name]}"
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$tmp/post.lua" "${url[$name]}" \
    >"$tmp/wrk-$name.txt"
  out="$tmp/wrk-$name.txt"
  sed 's/^/    /' "$out" >&2
  rps[$name]="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
  p50[$name]="$(awk '$1 == "50%" {print $2}' "$out")"
  p99[$name]="$(awk '$1 == "99%" {print $2}' "$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")"
  socket="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")"
  non2xx="${non2xx:-0}"
  socket="${socket:-0}"
  [ -n "${rps[$name]}" ] || die "$name: could not parse wrk output"
  if [ "$non2xx" -ne 0 ]; then
    tail -n 30 "$tmp/gateway.log" >&2 || true
    die "$name: wrk saw $non2xx non-2xx responses"
  fi
  errs[$name]="non-2xx $non2xx, socket $socket"
done

# --- report ----------------------------------------------------------------------------------
echo
echo "| target | req/s | p50 | p99 | errors | throughput vs baseline |"
echo "|---|---:|---:|---:|---|---:|"
for name in "${names[@]}"; do
  ratio="$(awk -v a="${rps[$name]}" -v b="${rps[baseline]}" 'BEGIN { printf "%.2f", a / b }')"
  printf '| %s | %.0f | %s | %s | %s | %s |\n' "${desc[$name]}" "${rps[$name]}" \
    "${p50[$name]}" "${p99[$name]}" "${errs[$name]}" "$ratio"
done
