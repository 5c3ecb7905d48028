#!/usr/bin/env bash
# The main job on the default model: inspect and evaluate ../shared's stories260K.
# (Replaced by `edgefit compress` on the polyglot model once the pipeline lands.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared"
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target edgefit
edgefit="$root/build/edgefit"
model="$shared/models/stories260K/gguf/stories260K-f32.gguf"
"$edgefit" inspect "$model"
if "$edgefit" eval --help >/dev/null 2>&1; then
  "$edgefit" eval "$model" --text "$shared/text/tinystories/TinyStories-valid.head31k.txt" --ctx 128
fi
