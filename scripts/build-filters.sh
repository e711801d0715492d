#!/usr/bin/env bash
# Builds the filters workspace for wasm32-wasip2 and installs the shipped filters into OUT_DIR
# (default: examples/filters.d in the repository) as NAME.wasm, the name routes refer to.
# Each component is written under a temporary name in OUT_DIR and renamed into place, so a
# gateway watching the directory never loads a half-written file.
#
# Usage: scripts/build-filters.sh [OUT_DIR]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/examples/filters.d}"
shipped=(json-enrich topic-router jwt-auth)

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

# From filters/ so that only its own cargo config applies, and into its own target dir even
# when CARGO_TARGET_DIR points elsewhere for the gateway's build.
target="$root/filters/target"
(cd "$root/filters" && cargo build --release --target wasm32-wasip2 --target-dir "$target")

mkdir -p "$out"
tmp=""
trap 'rm -f "$tmp"' EXIT
for name in "${shipped[@]}"; do
  built="$target/wasm32-wasip2/release/${name//-/_}.wasm"
  tmp="$out/.$name.wasm.$$.tmp"
  cp "$built" "$tmp"
  mv -f "$tmp" "$out/$name.wasm"
  size=$(($(wc -c <"$out/$name.wasm")))
  printf '%-14s %4d KiB  %s\n' "$name" $(((size + 1023) / 1024)) "$out/$name.wasm"
done
