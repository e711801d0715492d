#!/usr/bin/env bash
# Hot reload under load: replaces a filter and the config file while wrk keeps the gateway busy,
# and measures how long each new version takes to go live and whether any request fails.
#
#   route   POST /v1/events/{source}  sync, json-enrich + topic-router (events.{}, allow events.web)
#   load    wrk -t2 -c64 -d40s --latency, 1 KiB JSON to /v1/events/web, for the whole swap phase
#   swaps   json-enrich.wasm replaced 20 times (same code + a distinct custom section, so a new
#           sha256 and a real recompile), the config replaced 5 times (server.max_body_bytes
#           changed), ~1 s apart, each written to a hidden temp file and renamed into place
#           (bench/reload_driver.py). Latency = rename → /admin/filters shows the new sha256
#           (filters) or /admin/reloads generation +1 (config), polled every 2 ms.
#   compile json-enrich alone, before the load: `wafka check` (always compiles, no cache) and
#           gateway start → /healthz answering, with the compile cache deleted (cold) vs kept (warm)
#
# Prints a markdown table; exits non-zero if any request failed (non-2xx or socket error) or a
# swap did not go live / a reload failed.
#
# Usage: bench/reload.sh          (from anywhere; needs cargo, curl, python3; installs wrk with apt-get)
# Env:   DURATION (default 40s), THREADS (2), CONNECTIONS (64), FILTER_SWAPS (20), CONFIG_SWAPS (5),
#        SPACING (1.0 s), STARTS (3: repetitions of each compile-time measurement)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-40s}"
threads="${THREADS:-2}"
connections="${CONNECTIONS:-64}"
filter_swaps="${FILTER_SWAPS:-20}"
config_swaps="${CONFIG_SWAPS:-5}"
spacing="${SPACING:-1.0}"
starts="${STARTS:-3}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# --- tools -----------------------------------------------------------------------------------
ensure_tools
command -v python3 >/dev/null || die "python3 is required"

# --- build -----------------------------------------------------------------------------------
build_release
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wafka="$target_dir/release/wafka"

bench_tmp wafka-reload

log "building filters"
"$root/scripts/build-filters.sh" "$tmp/filters.d" >&2
cp "$tmp/filters.d/json-enrich.wasm" "$tmp/json-enrich.orig.wasm"

# --- ports, helpers --------------------------------------------------------------------------
now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# --- compile time of json-enrich (before any load) -------------------------------------------
# A gateway of its own with only json-enrich in its filters dir and on its route.
cdir="$tmp/compile"
mkdir -p "$cdir/filters.d"
cp "$tmp/json-enrich.orig.wasm" "$cdir/filters.d/json-enrich.wasm"
c_port="$(free_port)"
c_admin="$(free_port)"
cat >"$cdir/wafka.toml" <<TOML
[server]
listen = "127.0.0.1:$c_port"
admin_listen = "127.0.0.1:$c_admin"

[kafka]
brokers = "embedded"

[filters]
dir = "$cdir/filters.d"

[[routes]]
name = "enrich"
path = "/v1/enrich"
topic = "enrich"
filters = [{ name = "json-enrich" }]
TOML

start_to_healthz() { # prints ms from spawn to /healthz 200
  local t0 pid i ms=""
  t0="$(now_ms)"
  RUST_LOG=warn "$wafka" run --config "$cdir/wafka.toml" 2>>"$cdir/gateway.log" >&2 &
  pid=$!
  pids+=("$pid")
  for i in $(seq 1 2000); do
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$c_admin/healthz" 2>/dev/null; then
      ms=$(($(now_ms) - t0))
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ -n "$ms" ] || { tail -n 30 "$cdir/gateway.log" >&2; die "compile-time gateway did not start"; }
  echo "$ms"
}

log "compile time of json-enrich: wafka check x$starts, cold and warm starts x$starts"
check_ms=()
for _ in $(seq 1 "$starts"); do
  t0="$(now_ms)"
  RUST_LOG=warn "$wafka" check --config "$cdir/wafka.toml" >/dev/null 2>>"$cdir/check.log" \
    || { cat "$cdir/check.log" >&2; die "wafka check failed"; }
  check_ms+=($(($(now_ms) - t0)))
done
cold_ms=()
warm_ms=()
for _ in $(seq 1 "$starts"); do
  rm -rf "$cdir/filters.d/.cache"
  cold_ms+=("$(start_to_healthz)")
  [ -n "$(ls -A "$cdir/filters.d/.cache" 2>/dev/null)" ] || die "cold start wrote no cache entry"
  warm_ms+=("$(start_to_healthz)")
done
check_med="$(printf '%s\n' "${check_ms[@]}" | median)"
cold_med="$(printf '%s\n' "${cold_ms[@]}" | median)"
warm_med="$(printf '%s\n' "${warm_ms[@]}" | median)"
log "check ${check_ms[*]} ms; cold start ${cold_ms[*]} ms; warm start ${warm_ms[*]} ms"

# --- the gateway under test ------------------------------------------------------------------
gw_port="$(free_port)"
admin_port="$(free_port)"
cat >"$tmp/wafka.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"
admin_listen = "127.0.0.1:$admin_port"
max_body_bytes = 1048576

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
TOML

write_load_files "$tmp"

log "starting gateway on 127.0.0.1:$gw_port (admin $admin_port)"
RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
gw_pid=$!
pids+=("$gw_pid")
for i in $(seq 1 100); do
  if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/healthz" 2>/dev/null; then break; fi
  [ "$i" -lt 100 ] || { tail -n 30 "$tmp/gateway.log" >&2; die "gateway not ready after 20 s"; }
  sleep 0.2
done
url="http://127.0.0.1:$gw_port/v1/events/web"
code="$(curl -sS -o "$tmp/check.out" -w '%{http_code}' --max-time 10 -X POST \
  -H 'content-type: application/json' --data-binary "@$tmp/body.json" "$url")"
if [ "$code" != 200 ]; then
  cat "$tmp/check.out" >&2 || true
  tail -n 30 "$tmp/gateway.log" >&2 || true
  die "gateway answered $code, not 200"
fi
log "events: 200 $(cat "$tmp/check.out")"

# --- load + swaps ----------------------------------------------------------------------------
log "wrk -t$threads -c$connections -d$duration --latency $url (background)"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$tmp/post.lua" "$url" \
  >"$tmp/wrk.txt" 2>&1 &
wrk_pid=$!
pids+=("$wrk_pid")
sleep 3 # load reaches steady state before the first swap
log "swapping json-enrich x$filter_swaps and the config x$config_swaps, ${spacing}s apart"
driver_rc=0
python3 "$root/bench/reload_driver.py" --admin-port "$admin_port" --filters-dir "$tmp/filters.d" \
  --original "$tmp/json-enrich.orig.wasm" --config "$tmp/wafka.toml" \
  --filter-swaps "$filter_swaps" --config-swaps "$config_swaps" --spacing "$spacing" \
  >"$tmp/driver.json" || driver_rc=$?
kill -0 "$wrk_pid" 2>/dev/null || log "warning: wrk ended before the last swap; raise DURATION"
wait "$wrk_pid" || die "wrk failed: $(cat "$tmp/wrk.txt")"
sed 's/^/    /' "$tmp/wrk.txt" >&2
kill -0 "$gw_pid" 2>/dev/null || { tail -n 30 "$tmp/gateway.log" >&2; die "gateway exited"; }
reloads="$(curl -fsS --max-time 2 "http://127.0.0.1:$admin_port/admin/reloads")"
log "reloads: $reloads"
cache_entries="$(ls "$tmp/filters.d/.cache" 2>/dev/null | wc -l)"
cache_size="$(du -sh "$tmp/filters.d/.cache" 2>/dev/null | cut -f1)"

out="$tmp/wrk.txt"
total="$(awk '/requests in/ {print $1}' "$out")"
rps="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
p50="$(awk '$1 == "50%" {print $2}' "$out")"
p99="$(awk '$1 == "99%" {print $2}' "$out")"
maxlat="$(awk '$1 == "Latency" && NF >= 4 {print $4; exit}' "$out")"
non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")"
socket="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")"
non2xx="${non2xx:-0}"
socket="${socket:-0}"
[ -n "$total" ] && [ -n "$rps" ] || die "could not parse wrk output"

read -r f_n f_p50 f_max c_n c_p50 c_max n_failed <<<"$(python3 - "$tmp/driver.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = lambda v: "-" if v is None else f"{v:.1f}"
print(d["filter"]["n"], f(d["filter"]["p50"]), f(d["filter"]["max"]),
      d["config"]["n"], f(d["config"]["p50"]), f(d["config"]["max"]), len(d["failed"]))
PY
)"
log "filter swap latencies (ms): $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["filter"]["all"])' "$tmp/driver.json")"
log "config swap latencies (ms): $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["all"])' "$tmp/driver.json")"
if [ "$(grep -c . "$tmp/gateway.log")" -gt 0 ]; then
  log "gateway log (warn and above), last 20 lines:"
  tail -n 20 "$tmp/gateway.log" | sed 's/^/    /' >&2
fi

# --- report ----------------------------------------------------------------------------------
echo
echo "| measurement | value |"
echo "|---|---:|"
echo "| requests (wrk, $duration, -t$threads -c$connections) | $total ($(printf '%.0f' "$rps") req/s) |"
echo "| non-2xx / socket errors | $non2xx / $socket |"
echo "| request latency p50 / p99 / max | $p50 / $p99 / $maxlat |"
echo "| filter swaps live (json-enrich) | $f_n of $filter_swaps |"
echo "| filter swap → live, p50 / max | $f_p50 ms / $f_max ms |"
echo "| config swaps live | $c_n of $config_swaps |"
echo "| config swap → live, p50 / max | $c_p50 ms / $c_max ms |"
echo "| reload failures / generation at end | $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["failures"], "/", d["generation"])' "$reloads") |"
echo "| compile-cache entries after the run | $cache_entries (${cache_size:-0}) |"
echo "| json-enrich: \`wafka check\` (no cache, compiles), median of $starts | $check_med ms |"
echo "| json-enrich: start → /healthz, cold cache, median of $starts | $cold_med ms |"
echo "| json-enrich: start → /healthz, warm cache, median of $starts | $warm_med ms |"

status=0
if [ "$non2xx" -ne 0 ] || [ "$socket" -ne 0 ]; then
  printf 'FAIL: %s non-2xx responses, %s socket errors\n' "$non2xx" "$socket" >&2
  status=1
fi
if [ "$driver_rc" -ne 0 ] || [ "$n_failed" -ne 0 ] || [ "$f_n" -ne "$filter_swaps" ] || [ "$c_n" -ne "$config_swaps" ]; then
  printf 'FAIL: swaps not all live or a reload failed:\n%s\n' "$(cat "$tmp/driver.json")" >&2
  status=1
fi
exit "$status"
