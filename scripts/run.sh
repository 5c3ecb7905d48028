#!/usr/bin/env bash
# The main job: compress ../shared's multilingual polyglot model for a Raspberry Pi 5, with the
# NTREX calibration text (12 languages) and per-language validation on the NTREX eval text.
# compress's defaults do the rest: evaluation windows and the planned context fit the model's
# trained context (256), imatrix RTN and GPTQ candidates of every preset compete, and the best
# measured quality that fits the device and reaches 10 tokens/s wins (report.html says why).
# Writes out/polyglot-<device>/{<recipe>.gguf, report.html, report.json}. Re-running reuses
# finished stages. Pass another device id as $1 (see `build/edgefit devices`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared"
device=${1:-raspberry-pi-5}
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target edgefit
"$root/build/edgefit" compress "$shared/models/polyglot/hf" --device "$device" \
  --calib "$shared"/text/ntrex128/calib/*.txt --langs "$shared/text/ntrex128/eval" \
  --max-chunks 16 -o "$root/out/polyglot-$device"
