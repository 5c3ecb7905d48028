// What pruning must know about the sparse storage formats (quant/q_sparse.h: GGUF types in the
// quant traits table): how many weights a 256-block keeps at most, whether a sparsity pattern
// (masks chosen per row block, MaskScope::kPerRowBlock) fits every block, and how a sparse type
// named as a whole-model `--type` becomes a storage plan.
//
// A sparse type stores pruned weights only, so it is a type for the pruned block matmuls, not a
// preset: `--type q4_2of4` (edgefit prune, edgefit quantize) stores every block linear weight in
// it and everything else (token_embd, output, norms) as the q4_0 preset would
// (kSparseStorageBasePreset). The check runs before any work, so an impossible combination is
// one line and nothing written.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/dtype.h"
#include "prune/mask_select.h"
#include "prune/sparsity_pattern.h"
#include "quant/presets.h"
#include "quant/q_sparse.h"

namespace edgefit {
static_assert(kSparseBlock == kMaskRowBlock);  // masks chosen per row block fit a sparse block

// The preset whose rules give the tensors a sparse --type does not cover their types.
inline constexpr std::string_view kSparseStorageBasePreset = "q4_0";

// Kept weights a 256-block of `type` holds at most (0: not a sparse type).
int sparse_block_capacity(DType type);

// "" when every 256-block that `pattern` prunes (unstructured: per row block) fits `type`, else
// one line saying why and what fits. owl_lambda >= 0: OWL moves each layer's unstructured
// fraction by up to ±owl_lambda, and the lowest must fit too. "" for a type that is not sparse.
std::string sparse_storage_misfit(DType type, const SparsityPattern& pattern,
                                  double owl_lambda = -1);

// The sparse type a whole-model --type names ("q4_2of4", any case), or nullopt.
std::optional<DType> sparse_storage_type(std::string_view name);

// The override that puts every block linear weight (blk.N.attn_q … ffn_down) into `type`.
TensorTypeOverride sparse_block_override(DType type);

}  // namespace edgefit
