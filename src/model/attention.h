// Causal grouped-query attention over the KV cache, the forward pass's other hot loop after the
// matrix products, and the one that grows with the context: at a depth of 4096 positions a
// TinyLlama-shaped decode reads ~90 MiB of F16 keys and values per token beside ~600 MiB of 4-bit
// weights.
//
// One call handles one query position and one KV head with all `group` query heads that share it,
// so every key block and value row loaded is used `group` times. It is fused: one pass over the
// cached positions computes 16 scores at a time from the transposed key blocks (kv_cache.h), keeps
// an online softmax (running max and sum per head, the accumulators rescaled when the max grows)
// and adds the weighted values, reading keys and values in the cache's own type (F32, F16, Q8_0).
// exp() is a vectorised polynomial (relative error ~1e-7).
//
// Per-ISA tables like the matmul kernels': the same source (attention_impl.inc) compiled for
// baseline (the portable twin, also the NEON build), AVX2+FMA+F16C and AVX-512. The table follows
// the matmul kernels' choice (kernels::kernel_dispatch(), so EDGEFIT_ISA forces it too). The
// tables differ only in FMA contraction, so their results agree to ~1e-6 relative, not bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "model/kv_cache.h"

namespace edgefit {

// out[g·hd + d] = Σ_j softmax_j(scale · q_g · k_j) · v_j[d] over positions j < n_keys of `layer`,
// for the `group` query heads g whose vectors are q[g·hd …] (hd = cache.head_dim()) and that all
// read KV head `kv_head`.
using AttendFn = void (*)(const KVCache& cache, int layer, int kv_head, int64_t n_keys,
                          const float* q, int group, float scale, float* out);

// The same over positions [k0, k1) only (k0 a multiple of KVCache::kKeyBlock), unnormalised:
// acc[g·hd + d] = Σ_j e^(s_gj - m_g) · v_j[d], m[g] = max_j s_gj, l[g] = Σ_j e^(s_gj - m_g).
// Parts over consecutive ranges combine into attend()'s result (combine_attention_parts), so one
// long context can be split over threads when there are fewer KV heads than threads.
using AttendPartFn = void (*)(const KVCache& cache, int layer, int kv_head, int64_t k0, int64_t k1,
                              const float* q, int group, float scale, float* acc, float* m,
                              float* l);

// One ISA's attention kernel.
struct AttentionTable {
  const char* isa_name;      // "generic", "avx2", "avx512"
  AttendFn attend;           // the fused kernel for every key/value type pair
  AttendPartFn attend_part;  // the same over a range of positions, unnormalised
};

// out[g·hd + d] from `parts` partial results of `heads` heads each: acc [part][heads·hd], m and
// l [part][heads]. Rescales each part to the largest max: out = Σ_p acc_p·e^(m_p - M) /
// Σ_p l_p·e^(m_p - M).
void combine_attention_parts(int parts, int heads, int64_t hd, const float* acc, const float* m,
                             const float* l, float* out);

// The table in use: AVX-512 when the matmul kernels run the AVX-512 table, AVX2 with the AVX2 or
// AVX-VNNI tables, otherwise the generic one. Chosen once.
const AttentionTable& attention_table();
// Every table this CPU can run, generic first (for tests).
std::vector<const AttentionTable*> attention_tables_supported();

inline void attend(const KVCache& cache, int layer, int kv_head, int64_t n_keys, const float* q,
                   int group, float scale, float* out) {
  attention_table().attend(cache, layer, kv_head, n_keys, q, group, scale, out);
}

// The per-ISA tables (attention_<isa>.cpp); the x86 ones exist only in x86-64 builds.
const AttentionTable& attention_table_generic();
const AttentionTable& attention_table_avx2();
const AttentionTable& attention_table_avx512();

}  // namespace edgefit
