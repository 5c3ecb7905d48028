// Magnitude and Wanda: a score per weight, then the pattern's mask over the scores.
#include "prune/score_prune.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace edgefit {

std::vector<float> channel_norms_from_sum_sq(const double* sum_sq, int64_t cols) {
  std::vector<float> norms(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) {
    if (!(sum_sq[j] >= 0) || !std::isfinite(sum_sq[j]))
      throw Error("activation statistics: channel " + std::to_string(j) +
                  " has an invalid sum of squares " + std::to_string(sum_sq[j]));
    norms[static_cast<size_t>(j)] = static_cast<float>(std::sqrt(sum_sq[j]));
  }
  return norms;
}

std::vector<float> channel_norms_from_mean_sq(const float* mean_sq, int64_t cols, int64_t tokens) {
  std::vector<double> sums(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j)
    sums[static_cast<size_t>(j)] = static_cast<double>(mean_sq[j]) * static_cast<double>(tokens);
  return channel_norms_from_sum_sq(sums.data(), cols);
}

std::vector<float> magnitude_scores(const float* w, int64_t rows, int64_t cols) {
  std::vector<float> s(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < s.size(); ++i) s[i] = std::fabs(w[i]);
  return s;
}

std::vector<float> wanda_scores(const float* w, int64_t rows, int64_t cols, const float* norms) {
  for (int64_t j = 0; j < cols; ++j)
    if (!(norms[j] >= 0) || !std::isfinite(norms[j]))
      throw Error("Wanda: input channel " + std::to_string(j) + " has an invalid norm " +
                  std::to_string(norms[j]));
  std::vector<float> s(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      s[static_cast<size_t>(r * cols + j)] = std::fabs(w[r * cols + j]) * norms[j];
  return s;
}

PrunedWeights magnitude_prune(const float* w, int64_t rows, int64_t cols,
                              const SparsityPattern& pattern, MaskGroup group) {
  const auto scores = magnitude_scores(w, rows, cols);
  return apply_mask(w, rows, cols, select_mask(scores.data(), rows, cols, pattern, group));
}

PrunedWeights wanda_prune(const float* w, int64_t rows, int64_t cols, const float* norms,
                          const SparsityPattern& pattern, MaskGroup group) {
  const auto scores = wanda_scores(w, rows, cols, norms);
  return apply_mask(w, rows, cols, select_mask(scores.data(), rows, cols, pattern, group));
}

}  // namespace edgefit
