#!/usr/bin/env bash
# Cross-builds the kernels and model rooms with their tests for aarch64 (static) and runs them
# under qemu-aarch64 twice: `-cpu max` (NEON + dotprod: the neon-dotprod path is selected and
# checked against scalar and plain NEON, kernel by kernel and through whole quantized models) and
# `-cpu cortex-a53` (ARMv8.0, no dotprod: the NEON fallback is the default path).
#
# Usage: scripts/test_aarch64.sh [build-dir] [extra gtest args...]
# Needs: g++-aarch64-linux-gnu, qemu-user, cmake, ninja, /usr/src/googletest (Debian googletest).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build-aarch64}"
shift || true
JOBS="${JOBS:-2}"

cmake -S "$ROOT/cmake/aarch64-tests" -B "$BUILD" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/aarch64-linux-gnu.cmake" \
  -DEDGEFIT_SHARED_DIR="$(cd "$ROOT/.." && pwd)/shared" >/dev/null
cmake --build "$BUILD" --target kernels_tests model_tests -j"$JOBS"

status=0
for test in kernels_tests model_tests; do
  BIN="$BUILD/$test"
  file "$BIN" | grep -q "ARM aarch64" || { echo "not an aarch64 binary: $BIN" >&2; exit 1; }
  for cpu in max cortex-a53; do
    echo "=== qemu-aarch64 -cpu $cpu $test"
    start=$(date +%s.%N)
    if ! qemu-aarch64 -cpu "$cpu" "$BIN" --gtest_brief=1 "$@"; then
      status=1
    fi
    end=$(date +%s.%N)
    printf '=== -cpu %s %s: %.1f s\n' "$cpu" "$test" "$(echo "$end - $start" | bc)"
  done
done
exit $status
