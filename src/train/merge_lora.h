// The merged export: a base GGUF with LoRA adapters folded in, W' = W + s·B·A for every adapted
// weight (s as llama.cpp scales it, model/lora_adapter.h), each re-quantized to the base
// tensor's own type so the result has the base's recipe (tensor types, metadata, order). The
// file loads wherever the base does (llama.cpp, edgefit) with no adapter at run time.
//
// Streamed: one adapted tensor is rewritten at a time, in chunks of rows (dequantize a chunk,
// add s·B·A to it, quantize it back), so memory holds the mapped base, the adapters and one
// chunk — never a dequantized copy of a whole tensor, let alone of the model. Every other tensor
// is copied byte for byte.
//
// Re-quantization uses the reference quantizers without importance weights (what llama-quantize
// does without an imatrix); a base made with an imatrix or GPTQ loses that calibration in the
// adapted tensors. The error added is bounded by one more round of quantization of W'.
#pragma once

#include <string>
#include <vector>

#include "model/lora_adapter.h"

namespace edgefit::train {

// What merge_lora_gguf() did.
struct MergeStats {
  int merged = 0;      // tensors with an adapter folded in
  int copied = 0;      // tensors copied unchanged
  uint64_t bytes = 0;  // size of the written file
};

// Writes `base_path` with every adapter of `adapters` (loaded for that same base, in order)
// folded in to `out_path`, atomically. Throws Error for an adapted tensor whose type has no
// quantizer, or on I/O failure (no output is left behind).
MergeStats merge_lora_gguf(const std::string& base_path,
                           const std::vector<edgefit::LoraAdapter>& adapters,
                           const std::string& out_path);

}  // namespace edgefit::train
