// Causal grouped-query attention over the KV cache, the forward pass's other hot loop after the
// matrix products (at a 512-token prompt it was a third of the time as plain scalar loops).
//
// One call handles one query position and one KV head with all `group` query heads that share it,
// so every key block and value row loaded is used `group` times. Scores come from the transposed
// key blocks (kv_cache.h): 16 keys at a time, no horizontal sums. exp() is a vectorised
// polynomial (relative error ~1e-7). Compiled for AVX-512, AVX2 and baseline x86-64, chosen at
// load time by the compiler's function multiversioning (one binary for all x86 CPUs); on ARM the
// NEON build. The float order is fixed by the code, not the ISA, except for FMA contraction.
#pragma once

#include <cstdint>

#include "model/kv_cache.h"

namespace edgefit {

// out[g·hd + d] = Σ_j softmax_j(scale · q_g · k_j) · v_j[d] over positions j < n_keys of `layer`,
// for the `group` query heads g whose vectors are q[g·hd …] (hd = cache.head_dim()) and that all
// read KV head `kv_head`. scratch: attention_scratch_floats(group, n_keys) floats.
void attend(const KVCache& cache, int layer, int kv_head, int64_t n_keys, const float* q, int group,
            float scale, float* out, float* scratch);

// Scratch floats attend() needs.
inline int64_t attention_scratch_floats(int group, int64_t n_keys) {
  return int64_t{group} * ((n_keys + KVCache::kKeyBlock - 1) / KVCache::kKeyBlock) *
         KVCache::kKeyBlock;
}

}  // namespace edgefit
