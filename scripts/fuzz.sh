#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 60)
# from a generated seed corpus. Any crash, leak or allocation over 64 MB fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
bash "$root/scripts/setup.sh"
build="$root/build-fuzz"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Asan "-DCMAKE_CXX_FLAGS_ASAN=-O1 -g1" "-DCMAKE_C_FLAGS_ASAN=-O1 -g1" -DEDGEFIT_FUZZ=ON -DEDGEFIT_SANITIZE=ON -DEDGEFIT_TESTS=OFF \
  -DEDGEFIT_BENCH=OFF
# Every fuzz/fuzz_<name>.cpp is a target (fuzz/CMakeLists.txt names the library each one needs).
targets=()
for f in "$root"/fuzz/fuzz_*.cpp; do
  t=$(basename "$f" .cpp)
  targets+=("${t#fuzz_}")
done
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
rm -rf "$build/seeds" "$build/corpus"
python3 "$root/fuzz/make_seeds.py" "$build/seeds"
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/artifacts"
  echo "== fuzz_$t for ${seconds}s"
  "$build/fuzz/fuzz_$t" "$build/corpus/$t" "$build/seeds/$t" -max_total_time="$seconds" \
    -max_len=4096 -malloc_limit_mb=64 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t-" 2>&1 | grep -E "^(Done|stat::number_of_executed_units|==.*ERROR|SUMMARY)" || true
  test "${PIPESTATUS[0]}" -eq 0 || { echo "fuzz_$t failed; reproducer in $build/artifacts"; exit 1; }
done
