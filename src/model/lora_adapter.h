// LoRA adapters applied at inference, as llama.cpp applies `--lora` / `--lora-scaled`: for an
// adapted weight W {n_out, n_in} with factors A {r, n_in} and B {n_out, r}, the layer computes
//   y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ,   s = user_scale · alpha / r   (s = user_scale when alpha is 0)
// with r = A's rows — llama.cpp's llama_adapter_lora_weight::get_scale. The base stays as it is
// (mapped, repacked, quantized); no merged copy of the model is made.
//
// The adapter file is llama.cpp's adapter GGUF (general.type = "adapter", adapter.type = "lora",
// adapter.lora.alpha, tensors "<base weight>.lora_a" with ne = [n_in, r] and ".lora_b" with
// ne = [r, n_out]), see train/lora_gguf.h for the writer. Its rows follow the GGUF base's rows;
// for a llama/mistral model held in HF row order (rope_interleaved false) the rows of the q/k
// B factors are moved to the model's layout on loading (formats/qk_permute.h).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/model.h"

namespace edgefit {

// The two factors of one adapted weight, in f32.
struct LoraWeight {
  int64_t rank = 0;      // r
  int64_t n_in = 0;      // the base weight's input width
  int64_t n_out = 0;     // the base weight's output width
  std::vector<float> a;  // A {r, n_in} row-major
  std::vector<float> b;  // B {n_out, r} row-major, rows in the model's q/k layout
  float scale = 0;       // s above (user scale folded in)
};

// One adapter file, bound to a model: base weight name → its factors.
struct LoraAdapter {
  std::string path;                                     // the file it came from
  float alpha = 0;                                      // adapter.lora.alpha (0: none)
  std::unordered_map<std::string, LoraWeight> weights;  // by base weight name
};

// Reads an adapter GGUF for `model` with the user's scale (1 for `--lora`). Throws Error naming
// the file (and tensor, with its byte offset) when it is not a LoRA adapter, is for another
// architecture, names a weight the model lacks, or has a factor of the wrong shape or a type
// that cannot be converted to f32.
LoraAdapter load_lora_adapter(const std::string& path, const Model& model, float user_scale);

// y[t, 0 … n_out) += w.scale · B·(A·x[t]) for t < n_tokens; x is [n_tokens, n_in]. Runs on
// ThreadPool::global(), parallel over tokens (one writer per output row, fixed order).
void apply_lora(const LoraWeight& w, const float* x, int64_t n_tokens, float* y);

}  // namespace edgefit
