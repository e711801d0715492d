#!/usr/bin/env bash
# One filter's cost per request by phase (bench/benches/filter_phases.rs), with the system calls
# and page faults per request that `perf stat` counts: each configuration runs twice, with
# 2,000 and 12,000 requests, and the difference divided by 10,000 is what a request costs
# (start-up, compilation and warm-up cancel out).
#
# Usage: bench/filter_phases.sh     (needs perf from Debian's linux-perf, run as root)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v perf >/dev/null || { echo "perf is required" >&2; exit 1; }
cargo bench -p wafka-bench --bench filter_phases --no-run >&2
bin="$(ls -t "${CARGO_TARGET_DIR:-$root/target}"/release/deps/filter_phases-* | grep -v '\.d$' | head -n 1)"
cores="$(nproc)"

count() { # RESETS FILTER THREADS REQUESTS → "syscalls faults", and the table row on fd 3
  local out
  out="$(RESETS="$1" FILTERS="$2" THREADS="$3" REQUESTS="$4" perf stat -x, \
    -e raw_syscalls:sys_enter,page-faults -o /dev/stderr "$bin" 2>"$tmp")"
  echo "$out" | grep '^| [a-z]' | grep -v '^| filter |' >&3 || true
  awk -F, '/raw_syscalls:sys_enter/ {s=$1} /page-faults/ {f=$1} END {print s, f}' "$tmp"
}
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
rows="$(mktemp)"
echo "| filter | reset | threads | store µs | instantiate µs | call µs | reset µs | sum µs | wall µs/request | syscalls/request | page faults/request |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for reset in decommit auto; do
  for filter in topic-router json-enrich; do
    for threads in 1 "$cores"; do
      read -r s1 f1 < <(count "$reset" "$filter" "$threads" 2000 3>/dev/null)
      read -r s2 f2 < <(count "$reset" "$filter" "$threads" 12000 3>"$rows")
      row="$(sed 's/ | [0-9.]* |$/ |/' "$rows")"
      awk -v r="$row" -v s=$((s2 - s1)) -v f=$((f2 - f1)) \
        'BEGIN { printf "%s %.1f | %.2f |\n", r, s / 10000, f / 10000 }'
    done
  done
done
rm -f "$rows"
