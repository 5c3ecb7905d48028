// Structured scores (see structured_scores.h).
#include "prune/structured_scores.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "prune/keep_list.h"

namespace edgefit {
namespace {

// ‖W[:, j]‖² · sum_sq[j] for every column j of W [rows, cols].
std::vector<double> column_energies(const float* w, int64_t rows, int64_t cols,
                                    const double* sum_sq) {
  std::vector<double> e(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      const double v = w[r * cols + j];
      e[static_cast<size_t>(j)] += v * v;
    }
  for (int64_t j = 0; j < cols; ++j) {
    if (!(sum_sq[j] >= 0) || !std::isfinite(sum_sq[j]))
      throw Error("activation statistics: channel " + std::to_string(j) +
                  " has an invalid sum of squares");
    e[static_cast<size_t>(j)] *= sum_sq[j];
  }
  return e;
}

void check_layout(const HeadLayout& l) {
  if (l.n_head <= 0 || l.n_head_kv <= 0 || l.head_dim <= 0 || l.n_head % l.n_head_kv != 0)
    throw Error("attention layout: " + std::to_string(l.n_head) + " query heads cannot share " +
                std::to_string(l.n_head_kv) + " KV heads of " + std::to_string(l.head_dim) +
                " channels");
}

}  // namespace

std::vector<double> query_head_scores(const float* w_o, int64_t hidden, const double* o_sum_sq,
                                      const HeadLayout& layout) {
  check_layout(layout);
  const int64_t cols = layout.n_head * layout.head_dim;
  const auto e = column_energies(w_o, hidden, cols, o_sum_sq);
  std::vector<double> heads(static_cast<size_t>(layout.n_head), 0.0);
  for (int64_t j = 0; j < cols; ++j) heads[static_cast<size_t>(j / layout.head_dim)] += e[j];
  return heads;
}

std::vector<double> kv_group_scores(const std::vector<double>& query_scores,
                                    const HeadLayout& layout) {
  check_layout(layout);
  if (static_cast<int64_t>(query_scores.size()) != layout.n_head)
    throw Error("attention layout: " + std::to_string(query_scores.size()) + " head scores for " +
                std::to_string(layout.n_head) + " query heads");
  const int64_t group = layout.n_head / layout.n_head_kv;
  std::vector<double> g(static_cast<size_t>(layout.n_head_kv), 0.0);
  for (int64_t h = 0; h < layout.n_head; ++h)
    g[static_cast<size_t>(h / group)] += query_scores[static_cast<size_t>(h)];
  return g;
}

std::vector<int64_t> query_heads_of_groups(const std::vector<int64_t>& kept_groups,
                                           const HeadLayout& layout) {
  check_layout(layout);
  check_keep_list(kept_groups, layout.n_head_kv, "KV heads");
  const int64_t group = layout.n_head / layout.n_head_kv;
  std::vector<int64_t> heads;
  for (const int64_t g : kept_groups)
    for (int64_t k = 0; k < group; ++k) heads.push_back(g * group + k);
  return heads;
}

std::vector<double> ffn_channel_scores(const float* w_down, int64_t hidden, int64_t ffn,
                                       const double* down_sum_sq) {
  if (hidden <= 0 || ffn <= 0) throw Error("FFN channel scores: empty ffn_down");
  return column_energies(w_down, hidden, ffn, down_sum_sq);
}

BlockInfluence::BlockInfluence(int64_t width) : width_(width) {
  if (width <= 0) throw Error("block influence: hidden size must be positive");
}

void BlockInfluence::add(const float* in, const float* out, int64_t tokens) {
  for (int64_t t = 0; t < tokens; ++t) {
    const float* a = in + t * width_;
    const float* b = out + t * width_;
    double ab = 0, aa = 0, bb = 0;
    for (int64_t j = 0; j < width_; ++j) {
      ab += double(a[j]) * b[j];
      aa += double(a[j]) * a[j];
      bb += double(b[j]) * b[j];
    }
    if (aa == 0 || bb == 0) continue;
    sum_cosine_ += std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);  // rounding can pass ±1
    ++tokens_;
  }
}

double BlockInfluence::value() const {
  if (tokens_ == 0) throw Error("block influence: no token with a nonzero hidden state");
  return 1.0 - sum_cosine_ / static_cast<double>(tokens_);
}

}  // namespace edgefit
