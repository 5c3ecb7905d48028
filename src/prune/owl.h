// OWL (Yin et al., 2023, "Outlier Weighed Layerwise sparsity"): prune layers with many outlier
// weights less and the others more, at the same global sparsity.
//
// A layer's outlier ratio (the paper's LOD) is the fraction of its Wanda scores |W_ij|·‖X_j‖
// (score_prune.h) above M times their mean (M = 5 in the paper); a "layer" is one transformer
// block, all its linear weights counted together. Layers are then given sparsities
//   s_l = target − 2λ · (D_l − D̄),  D_l = (LOD_l − min LOD) / (max LOD − min LOD) ∈ [0, 1],
// D̄ the parameter-weighted mean of D — OWL's formula (its code normalises to [0, 2λ] and
// recentres on 1 − target density) with two guarantees it does not give on its own:
// - the parameter-weighted mean of s_l is the target (the paper weights every layer equally,
//   which is the same for Llama's identical blocks, but not once other weights join a layer);
// - every s_l is within ±λ of the target: when the spread exceeds λ on one side (a skewed
//   distribution of LODs), all deviations are scaled down by the same factor, which keeps the
//   mean.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace edgefit {

// The fraction of all scores of a layer's tensors (e.g. wanda_scores of each of its linear
// weights) that exceed m × their mean. Throws Error on no scores or m <= 0.
double outlier_ratio(std::span<const std::span<const float>> tensors, double m = 5.0);

struct OwlOptions {
  double target = 0.5;   // global sparsity, parameter-weighted over all layers, in [0, 1)
  double lambda = 0.08;  // largest deviation of a layer's sparsity from the target (the paper's
                         // λ: 0.08 at 70 %)
};

// Per-layer sparsities from the layers' outlier ratios and parameter counts (same length).
// Throws Error on mismatched or empty inputs, a ratio outside [0, 1], a non-positive count, a
// target outside [0, 1), λ < 0, or a band target ± λ that leaves [0, 1).
std::vector<double> owl_sparsities(const std::vector<double>& outlier_ratios,
                                   const std::vector<int64_t>& param_counts,
                                   const OwlOptions& options);

}  // namespace edgefit
