// The consistency check every loaded Model passes before any command uses it. A model whose
// tensors disagree with its config (a transposed ffn_gate, a missing layer, an embedding of the
// wrong width, hidden_size 0) would otherwise quantize into a GGUF that llama.cpp refuses, or
// crash the forward pass. Errors name the file, the tensor or config field, and both values.
#pragma once

#include <string>

#include "formats/model.h"

namespace edgefit {

// Hyperparameters in range: every size positive, head_dim even (RoPE rotates pairs), query heads
// a multiple of key/value heads, rms_norm_eps and rope_theta positive and finite. `format` picks
// how fields are named in the message ("gguf": metadata keys, "safetensors": config.json keys,
// "llama2c": header fields; anything else: config.json keys). Throws Error naming `file`.
void check_arch_config(const ArchConfig& c, const std::string& format, const std::string& file);

// check_arch_config, then every tensor the forward pass reads: present (token_embd, output_norm,
// and per layer the norms, attention and feed-forward weights) with the shape the config implies;
// optional ones (output, q/k/v biases, q/k norms, rope_freqs) shaped right when present; no layer
// tensor beyond the configured layer count. Unknown extra tensors are left alone.
void check_model(const Model& m);

}  // namespace edgefit
