// What a pruned candidate's file really holds, for `edgefit compress`'s report: the fraction of
// exact zeros per block matmul and per layer, read back from the written GGUF (so the report
// shows what was stored, not what the recipe asked for).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "formats/model.h"
#include "recipe/recipe.h"

namespace edgefit {

// Sparsity of a model's block weights, read from their dequantized values.
struct ModelSparsity {
  std::vector<std::pair<std::string, double>> tensors;  // "blk.N.*.weight" matrix → zero fraction
  std::vector<double> layers;  // per block: zeros / values over its matrices (-1: none readable)
};

// True when any of the recipe's rules thins weights (unstructured or N:M sparsity).
bool recipe_prunes(const Recipe& recipe);

// The zero fractions of every 2-D "blk.N.…" weight of `model` (norms are 1-D and skipped), one
// row at a time; a tensor whose type has no dequantizer is left out.
ModelSparsity model_sparsity(const Model& model);

}  // namespace edgefit
