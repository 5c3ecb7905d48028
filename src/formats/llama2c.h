// llama2.c checkpoints (karpathy/llama2.c "legacy" v0 export): a 7 × int32 header
//   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
// followed by float32 weights in a fixed order. A negative vocab_size means the classifier is
// stored separately at the end; otherwise it is tied to the token embedding.
// llama2.c applies RoPE to adjacent pairs, so q/k rows are in the interleaved layout (as in GGUF).
#pragma once

#include <string>

#include "formats/model.h"

namespace edgefit {

// Loads a checkpoint as a Model with GGUF tensor names; weights stay memory-mapped.
Model load_llama2c(const std::string& path);

}  // namespace edgefit
