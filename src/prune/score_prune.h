// Pruning by a per-weight score, without weight updates: magnitude and Wanda (Sun et al. 2023).
//
// Magnitude scores a weight by |W_ij|. Wanda scores it by |W_ij| · ‖X_j‖₂, the weight times the
// norm of its input channel over the calibration tokens: a small weight on a channel with large
// activations (LLMs have a few such outlier channels) still moves the output a lot, so it is kept.
// Wanda compares within each output row (MaskScope::kPerRow), magnitude classically over the
// whole layer; both take any SparsityPattern.
//
// Wanda's ‖X_j‖₂ comes from the same per-channel statistic an importance matrix collects:
//   ‖X_j‖₂ = sqrt(Σ_t x_tj²)          (calib's InputStats::sum_sq, summed over the n tokens)
//          = sqrt(n · mean_t x_tj²)    (an imatrix stores mean_t x_tj² per channel)
// Every comparison a mask makes (within a row, a layer, an N:M group) is between weights of one
// tensor, so the common factor sqrt(n) never changes a mask: sqrt(mean x²) is as good as the norm.
#pragma once

#include <cstdint>
#include <vector>

#include "prune/mask_select.h"
#include "prune/sparsity_pattern.h"

namespace edgefit {

// ‖X_j‖₂ = sqrt(Σ x_j²) per input channel, from sums of squares (e.g. InputStats::sum_sq).
// Throws Error on a negative or non-finite sum.
std::vector<float> channel_norms_from_sum_sq(const double* sum_sq, int64_t cols);
// ‖X_j‖₂ = sqrt(tokens · mean x_j²) from an imatrix's per-channel means over `tokens` tokens.
std::vector<float> channel_norms_from_mean_sq(const float* mean_sq, int64_t cols, int64_t tokens);

// |W_ij| for W [rows, cols] (row-major).
std::vector<float> magnitude_scores(const float* w, int64_t rows, int64_t cols);
// |W_ij| · norms[j]. Throws Error when a norm is negative or not finite.
std::vector<float> wanda_scores(const float* w, int64_t rows, int64_t cols, const float* norms);

// W with the lowest-magnitude weights zeroed to `pattern`.
PrunedWeights magnitude_prune(const float* w, int64_t rows, int64_t cols,
                              const SparsityPattern& pattern,
                              MaskGroup group = MaskScope::kPerLayer);
// W with the lowest Wanda scores zeroed to `pattern` (norms: ‖X_j‖₂ per input channel).
PrunedWeights wanda_prune(const float* w, int64_t rows, int64_t cols, const float* norms,
                          const SparsityPattern& pattern, MaskGroup group = MaskScope::kPerRow);

}  // namespace edgefit
