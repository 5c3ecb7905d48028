// The llama-family q/k row permutation between Hugging Face and llama.cpp (GGUF).
//
// HF applies RoPE with rotate_half: within a head of width d, dimension i pairs with i + d/2.
// llama.cpp (like Meta's original code and llama2.c) pairs adjacent dimensions 2j and 2j+1.
// convert_hf_to_gguf.py therefore reorders the output rows of W_q and W_k per head:
//   gguf_row(h, 2j + s) = hf_row(h, s·d/2 + j)     for j < d/2, s ∈ {0, 1}
// i.e. W.reshape(n_head, 2, d/2, in).swapaxes(1, 2). Only whole rows move, so the same mapping
// applies to quantized rows. qwen2/qwen3 are not permuted (llama.cpp uses NEOX RoPE for them).
#pragma once

#include <cstdint>
#include <string_view>

namespace edgefit {

// Whether llama.cpp stores this architecture's q/k rows interleaved: llama and mistral GGUFs hold
// permuted rows, Hugging Face folders do not; qwen2/qwen3 keep HF's layout (NEOX RoPE) everywhere.
inline bool gguf_permutes_qk(std::string_view architecture) {
  return architecture == "llama" || architecture == "mistral";
}

// A block's attn_q or attn_k weight ("blk.N.attn_q.weight"): the matrices whose rows move.
inline bool is_qk_weight(std::string_view name) {
  return name.starts_with("blk.") &&
         (name.ends_with(".attn_q.weight") || name.ends_with(".attn_k.weight"));
}

// Those weights or their biases (a bias's entries move as the rows do).
inline bool is_qk_tensor(std::string_view name) {
  return is_qk_weight(name) || (name.starts_with("blk.") &&
                                (name.ends_with(".attn_q.bias") || name.ends_with(".attn_k.bias")));
}

// Row index in the HF layout whose contents appear at GGUF row `gguf_row`.
inline int64_t qk_hf_row_for_gguf_row(int64_t gguf_row, int64_t head_dim) {
  const int64_t h = gguf_row / head_dim, r = gguf_row % head_dim;
  return h * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}

// Row index in the GGUF layout whose contents appear at HF row `hf_row`.
inline int64_t qk_gguf_row_for_hf_row(int64_t hf_row, int64_t head_dim) {
  const int64_t h = hf_row / head_dim, r = hf_row % head_dim, half = head_dim / 2;
  return h * head_dim + (r % half) * 2 + r / half;
}

// Copies rows of `src` (n_rows × row_bytes) into `dst` in the other layout.
void qk_permute_rows_hf_to_gguf(const void* src, void* dst, int64_t n_rows, uint64_t row_bytes,
                                int64_t head_dim);
void qk_permute_rows_gguf_to_hf(const void* src, void* dst, int64_t n_rows, uint64_t row_bytes,
                                int64_t head_dim);

}  // namespace edgefit
