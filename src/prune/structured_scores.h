// Scores for structured pruning: attention heads (GQA-aware), FFN channels and whole layers,
// from calibration statistics. Units with the lowest scores are removed first (keep_list.h).
//
// Heads and channels are scored by the energy of their contribution to the block's output over
// the calibration tokens. Input channel j of a linear layer adds W[:, j] · x_tj to the output of
// token t, and Σ_t ‖W[:, j] · x_tj‖² = ‖W[:, j]‖² · Σ_t x_tj²: the column's squared weight norm
// times the channel's squared activation norm (the Σx² an imatrix collects) — Wanda's score
// |W_ij|·‖X_j‖ summed in squares over the column. A unit of several channels is scored by the sum
// of its channels' energies (the cross terms between channels are dropped, as Wanda drops them).
// - FFN channel j is gate row j, up row j and down column j together: it reaches the output only
//   through down's input m_j = SiLU(gate_j · x) · (up_j · x), so its score is ‖W_down[:, j]‖² ·
//   Σ_t m_tj², which accounts for gate and up through the activations they produce.
// - Query head h owns the head_dim input channels of attn_output [h·head_dim, (h+1)·head_dim);
//   its score sums their energies. With grouped-query attention a KV head serves a group of
//   n_head / n_head_kv consecutive query heads (query head h reads KV head h / group size, as
//   llama.cpp and HF's repeat_kv do), and removing the KV head removes its whole group: so the
//   unit is the group, scored by the sum of its query heads.
// - Layers: ShortGPT's block influence BI = 1 − mean over tokens of cos(h_in, h_out), the cosine
//   between the hidden state entering and leaving the block. A block that barely turns the
//   residual stream (BI near 0) is the first to drop.
#pragma once

#include <cstdint>
#include <vector>

namespace edgefit {

// The attention's head layout.
struct HeadLayout {
  int64_t n_head = 0;     // query heads
  int64_t n_head_kv = 0;  // key/value heads (divides n_head)
  int64_t head_dim = 0;   // channels per head
};

// Energy per query head, from attn_output W_o [hidden, n_head · head_dim] (row-major, PyTorch
// order) and Σ_t x_tj² of its input per channel. Throws Error on an inconsistent layout.
std::vector<double> query_head_scores(const float* w_o, int64_t hidden, const double* o_sum_sq,
                                      const HeadLayout& layout);
// Score per KV group: the sum of its query heads' scores.
std::vector<double> kv_group_scores(const std::vector<double>& query_scores,
                                    const HeadLayout& layout);
// The query heads of the kept KV groups (a keep-list of groups, checked), in order.
std::vector<int64_t> query_heads_of_groups(const std::vector<int64_t>& kept_groups,
                                           const HeadLayout& layout);

// Energy per FFN channel, from ffn_down W_down [hidden, ffn] and Σ_t m_tj² of its input.
std::vector<double> ffn_channel_scores(const float* w_down, int64_t hidden, int64_t ffn,
                                       const double* down_sum_sq);

// ShortGPT's block influence of one layer, accumulated over batches of tokens.
class BlockInfluence {
 public:
  explicit BlockInfluence(int64_t width);
  // Adds `tokens` hidden states entering (in) and leaving (out) the block, [tokens, width] each.
  // A token whose input or output is all zero has no direction and is skipped.
  void add(const float* in, const float* out, int64_t tokens);
  // 1 − the mean cosine so far (in [0, 2]). Throws Error when no token was counted.
  double value() const;
  int64_t tokens() const { return tokens_; }  // tokens counted

 private:
  int64_t width_;          // hidden size
  int64_t tokens_ = 0;     // tokens counted
  double sum_cosine_ = 0;  // Σ cos(h_in, h_out) over them
};

}  // namespace edgefit
