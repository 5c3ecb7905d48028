#!/usr/bin/env bash
# Hashes every GGUF edgefit writes from the polyglot HF model, so a refactoring can show that its
# outputs are byte-identical before and after:
#   scripts/output_hashes.sh BUILD_DIR OUT_DIR    (prints "sha256  name" per output)
# Outputs: every `quantize` preset; q4_k_m with an imatrix collected on the NTREX calibration
# text; GPTQ, AWQ q4_k_m and SmoothQuant W8A8. The calibrated settings are small and fixed (a few
# minutes in all); never change them between two runs that are compared.
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR OUT_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
edgefit="$(cd "$1" && pwd)/edgefit"
out="$2"
shared="${EDGEFIT_SHARED_DIR:-$here/../shared}"
model="$shared/models/polyglot/hf"
calib=("$shared"/text/ntrex128/calib/*.txt)
mkdir -p "$out"
rm -f "$out"/*.gguf "$out"/*.imatrix.gguf
rm -rf "$out"/*.work "$out/log"

presets=(f32 f16 bf16 q8_0 q6_k q5_k_m q5_k_s q5_1 q5_0 q4_k_m q4_k_s q4_1 q4_0 iq4_nl q3_k_l
         q3_k_m q3_k_s q2_k)
for p in "${presets[@]}"; do
  "$edgefit" quantize "$model" "$out/$p.gguf" --type "$p" -q > /dev/null 2>> "$out/log"
done

# Importance matrix: 256 tokens per language in 128-token chunks.
"$edgefit" imatrix "$model" --calib "${calib[@]}" --ctx 128 --max-tokens 256 \
  -o "$out/polyglot.imatrix.gguf" > /dev/null 2>> "$out/log"
"$edgefit" quantize "$model" "$out/q4_k_m-imatrix.gguf" --type q4_k_m \
  --imatrix "$out/polyglot.imatrix.gguf" -q > /dev/null 2>> "$out/log"

# Calibrated methods: 12 sequences of 128 tokens.
small=(--calib "${calib[@]}" --samples 12 --seqlen 128 -q)
"$edgefit" quantize "$model" "$out/q4_k_m-gptq.gguf" --type q4_k_m --method gptq "${small[@]}" \
  > /dev/null 2>> "$out/log"
"$edgefit" quantize "$model" "$out/q4_k_m-awq.gguf" --type q4_k_m --method awq "${small[@]}" \
  > /dev/null 2>> "$out/log"
"$edgefit" quantize "$model" "$out/w8a8-smoothquant.gguf" --type q8_0 --method smoothquant \
  "${small[@]}" > /dev/null 2>> "$out/log"

cd "$out"
for f in "${presets[@]/%/.gguf}" polyglot.imatrix.gguf q4_k_m-imatrix.gguf q4_k_m-gptq.gguf \
         q4_k_m-awq.gguf w8a8-smoothquant.gguf; do
  sha256sum "$f"
done
