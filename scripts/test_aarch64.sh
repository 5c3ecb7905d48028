#!/usr/bin/env bash
# Cross-builds the kernels library and kernels_tests for aarch64 (static) and runs the tests under
# qemu-aarch64 twice: `-cpu max` (NEON + dotprod: the neon-dotprod path is selected and checked
# against scalar and plain NEON) and `-cpu cortex-a53` (ARMv8.0, no dotprod: the NEON fallback).
#
# Usage: scripts/test_aarch64.sh [build-dir] [extra gtest args...]
# Needs: g++-aarch64-linux-gnu, qemu-user, cmake, ninja, /usr/src/googletest (Debian googletest).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build-aarch64}"
shift || true
JOBS="${JOBS:-2}"

cmake -S "$ROOT/cmake/aarch64-kernels" -B "$BUILD" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/aarch64-linux-gnu.cmake" \
  -DEDGEFIT_SHARED_DIR="$(cd "$ROOT/.." && pwd)/shared" >/dev/null
cmake --build "$BUILD" --target kernels_tests -j"$JOBS"

BIN="$BUILD/kernels_tests"
file "$BIN" | grep -q "ARM aarch64" || { echo "not an aarch64 binary: $BIN" >&2; exit 1; }

status=0
for cpu in max cortex-a53; do
  echo "=== qemu-aarch64 -cpu $cpu"
  start=$(date +%s.%N)
  if ! qemu-aarch64 -cpu "$cpu" "$BIN" --gtest_brief=1 "$@"; then
    status=1
  fi
  end=$(date +%s.%N)
  printf '=== -cpu %s: %.1f s\n' "$cpu" "$(echo "$end - $start" | bc)"
done
exit $status
