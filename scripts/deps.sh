#!/usr/bin/env bash
# Installs what building and testing Wafka need on a Debian machine, when missing: the wasm
# target, a C toolchain and headers for librdkafka (rdkafka-sys builds it from source), Node.js
# for the third-party JavaScript clients, Python's venv for the PyPI ones, Chromium for the
# browser test and HAProxy for the several-gateways test. Called by scripts/test.sh and .ci/run;
# quiet when everything is there.
set -euo pipefail

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

need=()
for pkg in build-essential pkg-config libssl-dev zlib1g-dev chromium haproxy; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v node >/dev/null || need+=(nodejs npm)
# The pinned PyPI clients live in a venv (Debian ships venv apart from python3).
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3 python3-venv)
# Tests signal the real binary with kill(1), which a minimal image lacks.
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || need+=(procps)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "not a Debian machine: install ${need[*]} (or their equivalents) and run again" >&2
  exit 1
fi
echo "installing Debian packages the build and tests need: ${need[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
