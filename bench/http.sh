#!/usr/bin/env bash
# HTTP produce path under concurrent load: the gateway's routes against a plain hyper server,
# measured in the same run with wrk on 127.0.0.1.
#
# Targets (1 KiB JSON body; every gateway route produces to events.web on the embedded cluster):
#   async-none    POST /v1/async/plain         async, no filters
#   async-router  POST /v1/async/routed/web    async, topic-router (reads one path parameter)
#   async-both    POST /v1/async/events/web    async, json-enrich + topic-router
#   async-router-reuse, async-both-reuse       the same two with `reuse = {}` on each filter
#   sync-none     POST /v1/plain               sync, no filters
#   sync-both     POST /v1/events/web          sync, json-enrich + topic-router
#   sync-both-reuse                            the same with `reuse = {}`
#   async-keyed, sync-keyed                    async-none and sync-none with `idempotency = {}`,
#                                              a new Idempotency-Key per request
#   async-none-traced, async-both-traced, sync-none-traced, sync-both-traced
#                                              the same routes on a second gateway with
#                                              `[tracing]`: every request a new sampled trace,
#                                              its spans exported over OTLP (to plain-hyper,
#                                              which answers 200), traceparent on every record
#   baseline      plain-hyper (bench/src/bin/plain-hyper.rs): reads the body, answers 200
#
# Each target: a warm-up, then `wrk -t1 -c1` (latency of one client) and `wrk -t1 -c64`
# (throughput), both with --latency. Prints a markdown table with throughput as a ratio of the
# baseline and of the same mode without filters, since absolute numbers depend on the machine
# (here wrk, the gateway and its embedded mock broker all share the same cores). With ROUNDS > 1
# the c=64 runs are repeated round after round over every target, so a slow spell of the
# machine falls on all of them; the table gives the median of each round's req/s and ratios
# (with their range), and p50/p99 of the first round.
#
# Usage: bench/http.sh            (from anywhere; needs cargo, curl; installs wrk with apt-get)
# Env:   DURATION (default 5s), WARMUP (2s), THREADS (1), CONNECTIONS (64), ROUNDS (1),
#        TARGETS (all, in the order above), PERF (unset; a target name: `perf record -g` the gateway during its
#        c=64 run, flat report in $PERF_OUT, default /tmp/wafka-perf.txt, data beside it in
#        $PERF_OUT.data), STRACE (unset; a target
#        name: count syscalls during its c=64 run)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-5s}"
warmup="${WARMUP:-2s}"
threads="${THREADS:-1}"
connections="${CONNECTIONS:-64}"
rounds="${ROUNDS:-1}"
targets="${TARGETS:-async-none async-router async-router-reuse async-both async-both-reuse async-keyed async-none-traced async-both-traced sync-none sync-both sync-both-reuse sync-keyed sync-none-traced sync-both-traced baseline}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# --- tools -----------------------------------------------------------------------------------
ensure_tools

# --- build -----------------------------------------------------------------------------------
build_release
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
name = "async-plain"
path = "/v1/async/plain"
topic = "events.web"
mode = "async"

[[routes]]
name = "async-routed"
path = "/v1/async/routed/{source}"
topic = "events"
mode = "async"
filters = [
  { name = "topic-router", config = { param = "source", template = "events.{}", allow = ["events.web"] } },
]

[[routes]]
name = "async-events"
path = "/v1/async/events/{source}"
topic = "events"
mode = "async"
filters = [
  { name = "json-enrich" },
  { name = "topic-router", config = { param = "source", template = "events.{}", allow = ["events.web"] } },
]

[[routes]]
name = "async-routed-reuse"
path = "/v1/async/routed-reuse/{source}"
topic = "events"
mode = "async"
filters = [
  { name = "topic-router", reuse = {}, config = { param = "source", template = "events.{}", allow = ["events.web"] } },
]

[[routes]]
name = "async-events-reuse"
path = "/v1/async/events-reuse/{source}"
topic = "events"
mode = "async"
filters = [
  { name = "json-enrich", reuse = {} },
  { name = "topic-router", reuse = {}, config = { param = "source", template = "events.{}", allow = ["events.web"] } },
]

[[routes]]
name = "events-reuse"
path = "/v1/events-reuse/{source}"
topic = "events"
mode = "sync"
filters = [
  { name = "json-enrich", reuse = {} },
  { name = "topic-router", reuse = {}, config = { param = "source", template = "events.{}", allow = ["events.web"] } },
]

[[routes]]
name = "plain"
path = "/v1/plain"
topic = "events.web"
mode = "sync"

[[routes]]
name = "plain-keyed"
path = "/v1/keyed"
topic = "events.web"
mode = "sync"
idempotency = {}

[[routes]]
name = "async-plain-keyed"
path = "/v1/async/keyed"
topic = "events.web"
mode = "async"
idempotency = {}

[[routes]]
name = "events"
path = "/v1/events/{source}"
topic = "events"
mode = "sync"
filters = [
  { name = "json-enrich" },
  { name = "topic-router", config = { param = "source", template = "events.{}", allow = ["events.web"] } },
]

# Every request of a keyed run has a new key: room for all of them.
[idempotency]
max_keys = 5000000
max_bytes = 2147483648
TOML

# The traced targets: the same routes on a second gateway with [tracing], exporting to the
# baseline server (it answers 200 to anything).
traced_port="$(free_port)"
traced_admin_port="$(free_port)"
sed -e "s/127.0.0.1:$gw_port/127.0.0.1:$traced_port/" \
  -e "s/127.0.0.1:$admin_port/127.0.0.1:$traced_admin_port/" "$tmp/wafka.toml" >"$tmp/traced.toml"
cat >>"$tmp/traced.toml" <<TOML

[tracing]
otlp_endpoint = "http://127.0.0.1:$base_port"
TOML

write_load_files "$tmp"
# The keyed targets: a new Idempotency-Key per request (the run's prefix, then a counter).
cat >"$tmp/keyed.lua" <<LUA
local f = assert(io.open("$tmp/body.json", "rb"))
local body = f:read("*a")
f:close()
local prefix, n = "", 0
function init(args) prefix = args[1] .. "-" .. tostring(math.random(1, 1000000000)) end
function request()
  n = n + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. n,
  }, body)
end
LUA

# --- start servers ---------------------------------------------------------------------------
log "starting gateway on 127.0.0.1:$gw_port (admin $admin_port) and plain-hyper on $base_port"
RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
pids+=($!)
"$plain_hyper" "127.0.0.1:$base_port" 2>"$tmp/plain-hyper.log" >&2 &
pids+=($!)
case " $targets " in
  *-traced\ *)
    RUST_LOG=warn "$wafka" run --config "$tmp/traced.toml" 2>"$tmp/traced.log" >&2 &
    pids+=($!)
    ;;
esac

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
case " $targets " in
  *-traced\ *) wait_for traced "http://127.0.0.1:$traced_admin_port/healthz" ;;
esac

declare -A url desc
base="http://127.0.0.1:$gw_port"
url[async-none]="$base/v1/async/plain"
url[async-router]="$base/v1/async/routed/web"
url[async-both]="$base/v1/async/events/web"
url[async-router-reuse]="$base/v1/async/routed-reuse/web"
url[async-both-reuse]="$base/v1/async/events-reuse/web"
url[sync-both-reuse]="$base/v1/events-reuse/web"
url[sync-none]="$base/v1/plain"
url[sync-keyed]="$base/v1/keyed"
url[async-keyed]="$base/v1/async/keyed"
url[sync-both]="$base/v1/events/web"
url[baseline]="http://127.0.0.1:$base_port/"
traced="http://127.0.0.1:$traced_port"
url[async-none-traced]="$traced/v1/async/plain"
url[async-both-traced]="$traced/v1/async/events/web"
url[sync-none-traced]="$traced/v1/plain"
url[sync-both-traced]="$traced/v1/events/web"
desc[async-none-traced]="async, no filters, traced"
desc[async-both-traced]="async, json-enrich + topic-router, traced"
desc[sync-none-traced]="sync, no filters, traced"
desc[sync-both-traced]="sync, json-enrich + topic-router, traced"
desc[async-none]="async, no filters"
desc[async-router]="async, topic-router"
desc[async-both]="async, json-enrich + topic-router"
desc[async-router-reuse]="async, topic-router, reused"
desc[async-both-reuse]="async, json-enrich + topic-router, reused"
desc[sync-both-reuse]="sync, json-enrich + topic-router, reused"
desc[sync-none]="sync, no filters"
desc[sync-keyed]="sync, no filters, Idempotency-Key"
desc[async-keyed]="async, no filters, Idempotency-Key"
desc[sync-both]="sync, json-enrich + topic-router"
desc[baseline]="plain-hyper baseline"
declare -A peer
peer[async-router]=async-none
peer[async-both]=async-none
peer[sync-both]=sync-none
peer[async-router-reuse]=async-none
peer[async-both-reuse]=async-none
peer[sync-both-reuse]=sync-none
peer[sync-keyed]=sync-none
peer[async-keyed]=async-none
# Traced rows against the same route untraced.
peer[async-none-traced]=async-none
peer[async-both-traced]=async-both
peer[sync-none-traced]=sync-none
peer[sync-both-traced]=sync-both
script_for() { # NAME
  case "$1" in
    *-keyed) echo "$tmp/keyed.lua" ;;
    *) echo "$tmp/post.lua" ;;
  esac
}
# Each wrk run of a keyed target its own key prefix.
runs=0

# One request each before loading: the gateway must answer 2xx.
for name in $targets; do
  [ "$name" = baseline ] && continue
  code="$(curl -sS -o "$tmp/check.out" -w '%{http_code}' --max-time 10 -X POST \
    -H 'content-type: application/json' -H "idempotency-key: check-$$-$name" \
    --data-binary "@$tmp/body.json" "${url[$name]}")"
  case "$code" in
    200 | 202) log "$name: $code $(cat "$tmp/check.out")" ;;
    *)
      cat "$tmp/check.out" >&2 || true
      tail -n 30 "$tmp/gateway.log" >&2 || true
      die "$name: gateway answered $code"
      ;;
  esac
done
gateway_pid="${pids[0]}"
gateway_pid_of() { # NAME: the traced rows run on the second gateway
  case "$1" in *-traced) echo "${pids[2]}" ;; *) echo "$gateway_pid" ;; esac
}

# --- load ------------------------------------------------------------------------------------
run_wrk() { # NAME CONNECTIONS OUT
  runs=$((runs + 1))
  wrk -t"$threads" -c"$2" -d"$duration" --latency -s "$(script_for "$1")" "${url[$1]}" \
    -- "run$runs-$$" >"$3"
  sed 's/^/    /' "$3" >&2
  local non2xx socket
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$3")"
  socket="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$3")"
  if [ "${non2xx:-0}" -ne 0 ] || [ "${socket:-0}" -ne 0 ]; then
    tail -n 30 "$tmp/gateway.log" >&2 || true
    die "$1: wrk saw ${non2xx:-0} non-2xx responses and ${socket:-0} socket errors"
  fi
}
declare -A rps p50_1 p50 p99
for round in $(seq 1 "$rounds"); do
for name in $targets; do
  if [ "$round" -gt 1 ]; then
    log "$name: round $round: wrk -t$threads -c$connections -d$duration ${url[$name]}"
    run_wrk "$name" "$connections" "$tmp/wrk-$name-$round.txt"
    rps[$name]+=" $(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk-$name-$round.txt")"
    continue
  fi
  log "$name: warm-up $warmup"
  wrk -t"$threads" -c"$connections" -d"$warmup" -s "$(script_for "$name")" "${url[$name]}" \
    -- "warm-$$" >/dev/null
  log "$name: wrk -t$threads -c1 -d$duration --latency ${url[$name]}"
  run_wrk "$name" 1 "$tmp/wrk1-$name.txt"
  p50_1[$name]="$(awk '$1 == "50%" {print $2}' "$tmp/wrk1-$name.txt")"
  probe=()
  if [ "$name" != baseline ] && [ "${PERF:-}" = "$name" ]; then
    perf record --call-graph dwarf,32768 -F 2000 -o "$tmp/perf.data" -p "$(gateway_pid_of "$name")" 2>/dev/null &
    probe=($!)
  elif [ "$name" != baseline ] && [ "${STRACE:-}" = "$name" ]; then
    strace -f -c -o "$tmp/strace.txt" -p "$(gateway_pid_of "$name")" 2>/dev/null &
    probe=($!)
    sleep 1
  fi
  log "$name: wrk -t$threads -c$connections -d$duration --latency ${url[$name]}"
  run_wrk "$name" "$connections" "$tmp/wrk-$name.txt"
  out="$tmp/wrk-$name.txt"
  if [ ${#probe[@]} -gt 0 ]; then
    kill -INT "${probe[0]}"
    wait "${probe[0]}" 2>/dev/null || true
    requests="$(awk '/requests in/ {print $1}' "$out")"
    if [ -f "$tmp/perf.data" ]; then
      perf report -i "$tmp/perf.data" --no-children --percent-limit 0.3 --stdio -g none \
        --sort dso,symbol >"${PERF_OUT:-/tmp/wafka-perf.txt}" 2>/dev/null
      cp "$tmp/perf.data" "${PERF_OUT:-/tmp/wafka-perf.txt}.data"
      log "perf report of $name in ${PERF_OUT:-/tmp/wafka-perf.txt} ($requests requests)"
    else
      log "syscalls during $name ($requests requests):"
      head -n 25 "$tmp/strace.txt" >&2
    fi
  fi
  rps[$name]="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
  p50[$name]="$(awk '$1 == "50%" {print $2}' "$out")"
  p99[$name]="$(awk '$1 == "99%" {print $2}' "$out")"
  [ -n "${rps[$name]}" ] || die "$name: could not parse wrk output"
done
done

# --- report ----------------------------------------------------------------------------------
nth() { echo "$1" | awk -v n="$2" '{ print $n }'; }
sorted() { echo "$1" | tr ' ' '\n' | grep . | sort -g; }
median() { sorted "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# The median of each round's ratio of NAME to OTHER, and their range when there are rounds.
ratio_of() { # NAME OTHER
  local r list=""
  for r in $(seq 1 "$rounds"); do
    list+=" $(awk -v a="$(nth "${rps[$1]}" "$r")" -v b="$(nth "${rps[$2]}" "$r")" 'BEGIN { printf "%.2f", a / b }')"
  done
  if [ "$rounds" -gt 1 ]; then
    printf '%.2f (%s–%s)' "$(median "$list")" "$(sorted "$list" | head -n1)" "$(sorted "$list" | tail -n1)"
  else
    printf '%.2f' "$(median "$list")"
  fi
}

echo
[ "$rounds" -gt 1 ] && echo "Median of $rounds rounds (ratios: median of each round's, min–max); p50 and p99 of round 1."
echo "| target | c=1 p50 | c=$connections req/s | c=$connections p50 | c=$connections p99 | vs baseline | vs same mode, no filters |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for name in $targets; do
  vs_base="-"
  [ -n "${rps[baseline]:-}" ] && vs_base="$(ratio_of "$name" baseline)"
  vs_peer="-"
  p="${peer[$name]:-}"
  [ -n "$p" ] && [ -n "${rps[$p]:-}" ] && vs_peer="$(ratio_of "$name" "$p")"
  printf '| %s | %s | %.0f | %s | %s | %s | %s |\n' "${desc[$name]}" "${p50_1[$name]}" \
    "$(median "${rps[$name]}")" "${p50[$name]}" "${p99[$name]}" "$vs_base" "$vs_peer"
done
if [ "$rounds" -gt 1 ]; then
  echo
  echo "req/s of each round:"
  for name in $targets; do echo "    $name:${rps[$name]}"; done
fi
echo
echo "Filter instances created, by policy (reused rows should create few):"
curl -fsS "http://127.0.0.1:$admin_port/metrics" |
  awk '/^wafka_filter_instances_(created|retired)_total/ {print "    " $0}'
echo
echo "Idempotency-Key outcomes (keyed rows: each request new, none replayed) and states per record written:"
curl -fsS "http://127.0.0.1:$admin_port/metrics" |
  awk '/^wafka_idempotency_(requests_total|keys|writes_total|states_written_total)/ {print "    " $0}'
case " $targets " in
  *-traced\ *)
    echo
    echo "Spans of the traced gateway (none dropped):"
    curl -fsS "http://127.0.0.1:$traced_admin_port/metrics" |
      awk '/^wafka_trace_spans_total/ {print "    " $0}'
    ;;
esac
