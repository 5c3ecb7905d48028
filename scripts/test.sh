#!/usr/bin/env bash
# Builds edgefit and runs the whole test suite (ctest; every label, the slow ones included).
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   ASan + UBSan build in build-asan/: the `unit` label only. The
#                                `slow` label (minutes of GPTQ, compress and perplexity on the
#                                polyglot model) reruns code the unit tests already cover on small
#                                inputs; under sanitizers it would take CI ~25 more minutes.
#                                Three unit-labelled end-to-end runs are left out there too (whole
#                                shared models through eval/imatrix, and two kill-and-resume runs:
#                                ~3.5 CPU-minutes under ASan); the Release run keeps them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
build=build
flags=(-DCMAKE_BUILD_TYPE=Release)
labels=()
if [[ ${1:-} == --sanitize ]]; then
  build=build-asan
  # -O1 with line tables: sanitizer builds compile about twice as fast as at -O2 -g and still
  # give readable reports.
  flags=(-DCMAKE_BUILD_TYPE=Asan "-DCMAKE_CXX_FLAGS_ASAN=-O1 -g1" "-DCMAKE_C_FLAGS_ASAN=-O1 -g1"
         -DEDGEFIT_SANITIZE=ON -DEDGEFIT_BENCH=OFF)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  labels=(-L unit -E '^(ContextDefaults\.|CalibratedQuantize\.KeepsThePlanAndResumes|Recover\.KilledRunResumes)')
fi
cmake -S "$root" -B "$root/$build" -G Ninja "${flags[@]}"
cmake --build "$root/$build" -j"$(nproc)"
cd "$root/$build"
ctest --output-on-failure -j"$(nproc)" "${labels[@]}"
