#!/usr/bin/env bash
# Builds the shipped filters into examples/filters.d and runs the gateway on the embedded
# Kafka with examples/wafka.toml. Ctrl-C stops it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/build-filters.sh examples/filters.d
# Built as scripts/test.sh builds it, so the test command after this one reuses the build.
cargo build --release --workspace --bins --tests
exec "${CARGO_TARGET_DIR:-$root/target}/release/wafka" run --config examples/wafka.toml "$@"
