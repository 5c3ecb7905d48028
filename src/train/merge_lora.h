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
// does without an imatrix), or GPTQ where the caller gives the adapted tensor's input Hessian
// (GptqMerge below; recover.h does for a base that GPTQ made, which its metadata says:
// edgefit.gptq.*). A GPTQ tensor is rewritten whole (one f32 copy of that tensor, not of the
// model), since GPTQ's error feedback runs along every row.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/lora_adapter.h"
#include "solve/gptq.h"

namespace edgefit::train {

// GPTQ re-quantization of the adapted tensors.
struct GptqMerge {
  // Weight name ("blk.0.attn_q.weight") → H = 2·XᵀX/n [n_in, n_in] of its input over calibration
  // text, as the adapted model sees it; tensors without one are rounded as above.
  std::map<std::string, std::vector<float>> hessians;
  GptqOptions options;  // dampening, lazy batch, act-order (the base's own, from its metadata)
};

// True when the GGUF's metadata says GPTQ made it (the edgefit.gptq.* keys compress writes);
// `options` then gets its settings.
bool gguf_is_gptq(const std::string& path, GptqOptions* options = nullptr);

// What merge_lora_gguf() did.
struct MergeStats {
  int merged = 0;      // tensors with an adapter folded in
  int copied = 0;      // tensors copied unchanged
  int gptq = 0;        // of the merged, those re-quantized by GPTQ
  uint64_t bytes = 0;  // size of the written file
};

// Writes `base_path` with every adapter of `adapters` (loaded for that same base, in order)
// folded in to `out_path`, atomically; with `gptq`, the tensors it has Hessians for are
// re-quantized by GPTQ. Throws Error for an adapted tensor whose type has no quantizer, or on
// I/O failure (no output is left behind).
MergeStats merge_lora_gguf(const std::string& base_path,
                           const std::vector<edgefit::LoraAdapter>& adapters,
                           const std::string& out_path, const GptqMerge* gptq = nullptr);

}  // namespace edgefit::train
