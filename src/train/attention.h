// Causal grouped-query attention for training, forward and backward, flash-attention style:
// the forward saves only the output and each (head, query) row's log-sum-exp of the scores; the
// backward recomputes the scores from q, k and that log-sum-exp, one block of kAttentionRows
// queries per head at a time, so the largest score matrix is [kAttentionRows, n] per thread
// (memory O(n · heads) for the saved state, never O(n² · heads)).
//
// Layout: q [n, n_heads·head_dim], k and v [n, n_kv_heads·head_dim], out [n, n_heads·head_dim];
// query head h reads KV head h / (n_heads / n_kv_heads), query t attends to keys 0 … t.
//   s_tj = scale · q_t·k_j,  p_tj = exp(s_tj − lse_t),  out_t = Σ_j p_tj v_j
// Backward, with D_t = dout_t·out_t and ds_tj = p_tj (dout_t·v_j − D_t):
//   dq_t = scale Σ_j ds_tj k_j,  dk_j = scale Σ_t ds_tj q_t,  dv_j = Σ_t p_tj dout_t
// The block's products (q·kᵀ, dout·vᵀ, ds·k, dsᵀ·q, pᵀ·dout) are train/gemm.h GEMMs. The forward
// runs one task per (head, query block); the backward one task per KV head, which owns that head's
// dk/dv and its query heads' dq and visits heads and query blocks in order — so every output has
// one writer and a fixed order (no atomics, results independent of the thread count), and each
// score is recomputed once.
#pragma once

#include <cstdint>

namespace edgefit::train {

// Queries per score block (see above).
inline constexpr int64_t kAttentionRows = 64;

struct AttentionShape {
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads (divides n_heads)
  int head_dim = 0;    // width of one head
  float scale = 1.0f;  // score scale, 1/sqrt(head_dim) for the Llama family
};

// out and lse ([n_heads, n], natural log) from q, k, v of n positions.
void attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v,
                       int64_t n, float* out, float* lse);

// dq, dk, dv (overwritten) from the forward's inputs, its saved out and lse, and dout.
void attention_backward(const AttentionShape& s, const float* q, const float* k, const float* v,
                        const float* out, const float* lse, const float* dout, int64_t n, float* dq,
                        float* dk, float* dv);

}  // namespace edgefit::train
