# Shared by the bench scripts (source it): tools, a temp dir that cleans up after the processes
# started, free ports, and the 1 KiB JSON body with its wrk POST script.

# The release binaries (wafka, plain-hyper, plain-producer), built exactly as scripts/test.sh
# builds them, so benches and tests share one build of wasmtime and librdkafka.
build_release() {
  log "building release binaries"
  (cd "$root" && cargo build --release --workspace --bins --tests) >&2
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# wrk from Debian's packages if missing; curl is needed to probe.
ensure_tools() {
  if ! command -v wrk >/dev/null; then
    log "installing wrk"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    if ! $sudo apt-get install -y -qq wrk >/dev/null 2>&1; then
      $sudo apt-get update -qq
      $sudo apt-get install -y -qq wrk >/dev/null
    fi
  fi
  command -v curl >/dev/null || die "curl is required"
}

# Sets $tmp to a new directory; on exit, kills every pid in $pids and removes $tmp.
bench_tmp() { # NAME
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}

# A loopback port nothing listens on and this script has not handed out yet; below the
# kernel's ephemeral range (32768 up), so a client or an embedded cluster started later cannot
# take it first.
used_ports=()
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    case " ${used_ports[*]-} " in *" $p "*) continue ;; esac
    if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
      used_ports+=("$p")
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# DIR/body.json (a 1024-byte JSON object) and DIR/post.lua (wrk: POST it as JSON).
write_load_files() { # DIR
  local prefix='{"event":"page_view","user":"u-1234","pad":"' suffix='"}'
  local pad_len=$((1024 - ${#prefix} - ${#suffix}))
  printf '%s%s%s' "$prefix" "$(printf 'x%.0s' $(seq 1 "$pad_len"))" "$suffix" >"$1/body.json"
  [ "$(wc -c <"$1/body.json")" -eq 1024 ] || die "body is not 1024 bytes"
  cat >"$1/post.lua" <<LUA
local f = assert(io.open("$1/body.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
LUA
}

# Starts tansu (a Kafka-protocol broker, in memory) on a free port and creates each TOPIC with
# 3 partitions. Sets $bootstrap and $tansu_pid (for SIGSTOP/SIGCONT). Call after bench_tmp.
start_tansu() { # TOPIC...
  local tansu port topic
  tansu="${TANSU:-$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")}"
  [ -x "$tansu" ] || die "tansu not found: scripts/test.sh installs it (or set TANSU)"
  port="$(free_port)"
  bootstrap="127.0.0.1:$port"
  log "starting tansu on $bootstrap"
  "$tansu" broker --listener-url "tcp://$bootstrap" --advertised-listener-url "tcp://$bootstrap" \
    --storage-engine memory://tansu/ >"$tmp/tansu.log" 2>&1 &
  tansu_pid=$!
  pids+=("$tansu_pid")
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  for topic in "$@"; do
    "$tansu" topic create "$topic" --partitions 3 --broker "tcp://$bootstrap" >/dev/null
  done
}

# What a wrk report FILE says: requests answered, non-2xx answers among them, and the run's
# length in seconds (wrk prints 5.01s, 900.12ms or 1.00m).
wrk_requests() { awk '/requests in/ {print $1}' "$1"; }
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF; f=1} END {if (!f) print 0}' "$1"; }
wrk_seconds() {
  awk '/requests in/ {gsub(",", ""); v=$4; if (v ~ /ms$/) {sub("ms","",v); v/=1000} else if (v ~ /m$/) {sub("m","",v); v*=60} else sub("s","",v); print v}' "$1"
}
