#!/usr/bin/env bash
# What the tdca command's compilation cache (tdca.compile_cache) saves: `tdca demo` with the
# cache off, then twice with a fresh cache (the first fills it, the second loads from it).
# The data sets are converted before the first timed run, so only compiling differs.
# Usage: TDCA_DATA_DIR=... bash benchmarks/compile_cache.sh > results/cpu/compile-cache.txt
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export TDCA_CACHE_DIR="$tmp/cache"
unset JAX_COMPILATION_CACHE_DIR
run() {  # label, then env assignments for the run; prints the wall time (bash's own timer)
  local label="$1" seconds
  shift
  rm -rf "$tmp/out"
  seconds="$( { TIMEFORMAT=%R; time env "$@" tdca demo --out "$tmp/out" > /dev/null 2>&1; } 2>&1 )"
  printf '%-28s %6s s\n' "$label" "$seconds"
}
echo "tdca demo, $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%F)"
TDCA_XLA_CACHE=off tdca demo --out "$tmp/out" > /dev/null 2>&1  # converts the data sets
run "cache off" TDCA_XLA_CACHE=off
run "cache on, empty (fills it)" TDCA_XLA_CACHE="$tmp/xla"
run "cache on, filled" TDCA_XLA_CACHE="$tmp/xla"
echo "cache size: $(du -sh "$tmp/xla" | cut -f1), $(find "$tmp/xla" -name '*-cache' | wc -l) programs"
