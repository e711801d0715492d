#!/usr/bin/env bash
# Runs one fuzz target for a bounded time: scripts/fuzz.sh TARGET [SECONDS]
# Targets: config (config file parsing), route (path patterns and matching), batch (batch
# bodies), rest_proxy (every REST Proxy request body).
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}"
seconds="${2:-60}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
cd "$root/runtime"
# No sanitizer: AddressSanitizer breaks the C dependencies' build (librdkafka, zstd), and the
# targets are safe Rust, where libFuzzer still catches every panic.
RUSTC_BOOTSTRAP=1 cargo fuzz run -O -s none "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096
