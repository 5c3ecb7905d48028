// Causal grouped-query attention for training, forward and backward, flash-attention style:
// the forward saves only the output and each (head, query) row's log-sum-exp of the scores; the
// backward recomputes scores one (head, query, key) at a time from q, k and that log-sum-exp,
// so no n × n score matrix exists at any time (memory is O(n · heads), not O(n² · heads)).
//
// Layout: q [n, n_heads·head_dim], k and v [n, n_kv_heads·head_dim], out [n, n_heads·head_dim];
// query head h reads KV head h / (n_heads / n_kv_heads), query t attends to keys 0 … t.
//   s_tj = scale · q_t·k_j,  p_tj = exp(s_tj − lse_t),  out_t = Σ_j p_tj v_j
// Backward, with D_t = dout_t·out_t and ds_tj = p_tj (dout_t·v_j − D_t):
//   dq_t = scale Σ_j ds_tj k_j,  dk_j = scale Σ_t ds_tj q_t,  dv_j = Σ_t p_tj dout_t
// It runs as two parallel passes so that every output row has one writer and a fixed order (no
// atomics, results independent of the thread count): one over (head, query) rows for dq and D,
// one over (KV head, key) rows for dk and dv, each recomputing p. That costs the score work
// twice, the price of determinism without per-thread copies of dk/dv.
#pragma once

#include <cstdint>

namespace edgefit::train {

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
