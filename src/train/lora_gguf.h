// LoRA adapters as llama.cpp adapter GGUFs (the format llama.cpp b4748 loads with `--lora`, see
// its llama-adapter.cpp): metadata general.type = "adapter", general.architecture = the base's,
// adapter.type = "lora", adapter.lora.alpha (f32); per adapted weight W, F32 tensors
// "<W>.lora_a" with ne = [n_in, r] and "<W>.lora_b" with ne = [r, n_out] — exactly the
// PyTorch-order shapes {r, n_in} and {n_out, r} the adapters have here. llama.cpp scales the
// product by alpha / r with r = lora_a's ne[1], as training does.
//
// Row layout. Adapter rows follow the GGUF base's rows: for llama/mistral, attn_q/attn_k rows are
// in llama.cpp's interleaved RoPE order (formats/qk_permute.h). The rows of B (its output side)
// are therefore permuted HF → GGUF when the trained model had HF rows, and back on reading into
// such a model; A (input side) never moves.
#pragma once

#include <string>

#include "formats/model.h"
#include "train/parameters.h"

namespace edgefit::train {

// Writes the ".lora_a"/".lora_b" parameters of `adapters` (trained on a model with config `cfg`)
// to `path` atomically.
void write_lora_gguf(const std::string& path, const ParameterSet& adapters, const ArchConfig& cfg,
                     double alpha);

// Reads an adapter GGUF into the matching parameters of `adapters` (same names and shapes, for a
// model with config `cfg`) and returns its alpha. Throws Error naming the file and tensor when
// the file is not a LoRA adapter for this architecture or a tensor is missing or misshapen;
// `adapters` is then unchanged.
double read_lora_gguf(const std::string& path, ParameterSet& adapters, const ArchConfig& cfg);

}  // namespace edgefit::train
