#!/usr/bin/env bash
# Runs every test: the filters' native unit tests, then the workspace (unit tests, the SDK and
# the integration suite, which builds the filter components itself and runs each Kafka scenario
# on the embedded mock cluster and on a real tansu broker). Installs what is missing first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/deps.sh"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if [ -z "${TANSU:-}" ] && ! command -v tansu >/dev/null; then
  echo "installing tansu (a Kafka-protocol broker) for the real-broker tests; first time only" >&2
  cargo install --locked tansu --version 0.6.0 --features dynostore
fi

# Third-party programs the suite runs unchanged (tests/node: the eventsource package,
# oidc-provider (an OpenID Connect provider), and Chromium through playwright-core; Chromium
# itself is Debian's, installed by scripts/deps.sh).
if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
  (cd tests/node && npm ci --no-audit --no-fund)
fi

# PyPI clients the suite runs unchanged (tests/python: kafka-bridge-client, schemathesis,
# confluent-kafka),
# pinned with everything they pull in.
py=tests/python
if [ ! -e "$py/.venv/.installed" ] || [ "$py/requirements.txt" -nt "$py/.venv/.installed" ]; then
  python3 -m venv "$py/.venv"
  "$py/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$py/requirements.txt"
  touch "$py/.venv/.installed"
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== filters: native unit tests"
cargo test --manifest-path filters/Cargo.toml 2>&1 | tee "$log"
echo "== workspace: unit, SDK and integration tests"
# The shutdown test runs the real binary. Built in the same invocation shape as the tests
# (`--tests` brings in dev-dependencies) so features unify and wasmtime is compiled once.
cargo build --release --workspace --bins --tests
cargo test --release --workspace "$@" 2>&1 | tee -a "$log"

# One line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "all: %d passed, %d failed\n", p, f }' "$log"
