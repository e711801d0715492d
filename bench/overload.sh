#!/usr/bin/env bash
# Memory under attack: the gateway's resident memory each second, against its budget.
#
#   stalled   STALLED (2000) connections each send the headers of a 1 MiB POST and 960 KiB of
#             its body, then stall for HOLD seconds (20), while one client keeps sending normal
#             requests; then the attackers go.
#   mixed     STALLED / 2 stalled bodies + READERS (200) event streams that never read + the
#             broker paused (SIGSTOP) while wrk sends async records, for HOLD seconds.
#
# The gateway runs with server.max_memory_bytes = BUDGET (128 MiB) on tansu. Prints the RSS curve
# (MiB, one value a second) of each phase, what the normal client got (200 / 503 overloaded /
# anything else, which must be none), and the idle RSS before and after.
#
# Usage: bench/overload.sh      Env: STALLED, READERS, HOLD, BUDGET (bytes)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stalled="${STALLED:-2000}"
readers="${READERS:-200}"
hold="${HOLD:-20}"
budget="${BUDGET:-134217728}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
ensure_tools
ulimit -n 65536 2>/dev/null || ulimit -n 8192
command -v python3 >/dev/null || die "python3 is required"

build_release
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wafka="$target_dir/release/wafka"
clients="$target_dir/release/read-clients"

bench_tmp wafka-overload
gw_port="$(free_port)"
admin_port="$(free_port)"

start_tansu raw live

mkdir -p "$tmp/filters.d"
cat >"$tmp/wafka.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"
admin_listen = "127.0.0.1:$admin_port"
max_memory_bytes = $budget
max_connections = 20000
request_timeout_ms = 60000

[kafka]
brokers = "$bootstrap"
max_in_flight_bytes = 33554432

[filters]
dir = "$tmp/filters.d"

[[routes]]
name = "raw"
path = "/v1/raw"
topic = "raw"

[[routes]]
name = "async"
path = "/v1/async"
topic = "raw"
mode = "async"

[[routes]]
name = "live"
path = "/v1/live"
topic = "live"
read = {}
TOML

RUST_LOG=warn "$wafka" run --config "$tmp/wafka.toml" 2>"$tmp/gateway.log" >&2 &
gateway_pid=$!
pids+=("$gateway_pid")
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/healthz" 2>/dev/null && break
  sleep 0.2
done
rss() { awk '$1 == "VmRSS:" {printf "%d", $2 / 1024}' "/proc/$gateway_pid/status"; }
charged() { # MiB the budget has handed out
  curl -fsS --max-time 1 "http://127.0.0.1:$admin_port/admin/memory" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["used_bytes"] >> 20)' 2>/dev/null || echo "?"
}

# The attackers: N sockets, each the headers of a 1 MiB POST and 960 KiB of it, then silence.
cat >"$tmp/attack.py" <<'PY'
import asyncio, sys
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
body = b"x" * (960 << 10)
async def one():
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"POST /v1/raw HTTP/1.1\r\nhost: x\r\ncontent-length: 1048576\r\n\r\n")
        w.write(body)
        await w.drain()
        await asyncio.sleep(hold)
        w.close()
    except OSError:
        pass
async def main():
    await asyncio.gather(*(one() for _ in range(n)))
asyncio.run(main())
PY

# The normal client: one small POST at a time to PATH; counts statuses, any failure to answer is "other".
cat >"$tmp/normal.py" <<'PY'
import http.client, sys, time
port, seconds, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
counts = {"200": 0, "503": 0, "other": 0}
errors = {}
end = time.time() + seconds
while time.time() < end:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", path, body=b'{"ok":1}', headers={"content-type": "application/json"})
        r = c.getresponse()
        r.read()
        key = "200" if r.status in (200, 202) else "503" if r.status == 503 else "other"
        if r.status == 503 and r.getheader("retry-after") is None:
            key = "other"
        if key == "other":
            errors[r.status] = errors.get(r.status, 0) + 1
        counts[key] += 1
        c.close()
    except Exception as e:
        counts["other"] += 1
        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
    time.sleep(0.05)
print(counts["200"], counts["503"], counts["other"])
if errors:
    print("errors:", errors, file=sys.stderr)
PY

phase() { # NAME SECONDS: the RSS each second while the phase's background work runs
  local curve=()
  for _ in $(seq 1 "$2"); do
    curve+=("$(rss)/$(charged)")
    sleep 1
  done
  echo "${curve[*]}"
}

idle_before="$(rss)"

log "stalled: $stalled attackers for ${hold}s"
python3 "$tmp/attack.py" "$gw_port" "$stalled" "$hold" &
attack_pid=$!
python3 "$tmp/normal.py" "$gw_port" "$hold" /v1/raw >"$tmp/normal-stalled.txt" &
normal_pid=$!
curve_stalled="$(phase stalled $((hold + 10)))"
wait "$attack_pid" || true
wait "$normal_pid"
read -r ok1 refused1 other1 <"$tmp/normal-stalled.txt"
memory_after_stalled="$(curl -fsS "http://127.0.0.1:$admin_port/admin/memory")"

log "mixed: $((stalled / 2)) attackers, $readers stalled streams, broker paused, async traffic"
write_load_files "$tmp"
"$clients" stall "http://127.0.0.1:$gw_port/v1/live" "$readers" "$hold" >/dev/null &
readers_pid=$!
python3 "$tmp/attack.py" "$gw_port" $((stalled / 2)) "$hold" &
attack_pid=$!
kill -STOP "$tansu_pid"
wrk -t1 -c32 -d"${hold}s" -s "$tmp/post.lua" "http://127.0.0.1:$gw_port/v1/async" >"$tmp/wrk.txt" 2>&1 &
wrk_pid=$!
# The broker is paused: the normal client uses the async route, which answers once queued.
python3 "$tmp/normal.py" "$gw_port" "$hold" /v1/async >"$tmp/normal-mixed.txt" &
normal_pid=$!
if [ -n "${SMAPS:-}" ]; then (sleep $((hold / 2)); cp "/proc/$gateway_pid/smaps" "$SMAPS"; curl -fsS "http://127.0.0.1:$admin_port/admin/memory" > "$SMAPS.memory") & fi
curve_mixed="$(phase mixed "$hold")"
kill -CONT "$tansu_pid"
wait "$attack_pid" "$readers_pid" "$wrk_pid" || true
wait "$normal_pid"
read -r ok2 refused2 other2 <"$tmp/normal-mixed.txt"
curve_after="$(phase after 15)"
idle_after="$(rss)"
[ -z "${SMAPS:-}" ] || cp "/proc/$gateway_pid/smaps" "$SMAPS.end"
memory_end="$(curl -fsS "http://127.0.0.1:$admin_port/admin/memory")"

echo
echo "budget: $((budget >> 20)) MiB; idle RSS before: $idle_before MiB, after: $idle_after MiB"
echo
echo "| phase | RSS / charged to the budget, each second (MiB) | peak RSS | normal client: 200 or 202 / 503 overloaded / other |"
echo "|---|---|---:|---|"
peak() { tr ' ' '\n' <<<"$1" | cut -d/ -f1 | sort -n | tail -n 1; }
echo "| $stalled stalled bodies | $curve_stalled | $(peak "$curve_stalled") | $ok1 / $refused1 / $other1 |"
echo "| mixed | $curve_mixed | $(peak "$curve_mixed") | $ok2 / $refused2 / $other2 |"
echo "| after | $curve_after | $(peak "$curve_after") | |"
echo
echo "memory after the stalled phase: $memory_after_stalled"
echo "memory at the end: $memory_end"
echo "async traffic during the mixed phase:"
grep -E "requests in|Non-2xx|Socket errors" "$tmp/wrk.txt" || true
[ "$other1" -eq 0 ] && [ "$other2" -eq 0 ] || die "the normal client got answers other than 200 or 503 overloaded"
