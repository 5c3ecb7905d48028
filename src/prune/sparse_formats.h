// What pruning must know about the sparse storage formats (quant/q_sparse.h: GGUF types in the
// quant traits table): how many weights a 256-block keeps at most, the row runs whose kept count
// pruning bounds for the type (MaskScope::kPerRowBlock's blocks), whether a sparsity pattern fits
// every run, and how a sparse type named as a whole-model `--type` becomes a storage plan.
//
// The runs are the 256-blocks themselves, except for q4_qmask62 (session 16): there every aligned
// run of 32 inputs keeps at most 12 (capacity 96 · 32 / 256). A block's slot half h (slots
// 128h … 128h + 127, qmask62_position) is weights 64q + 32h … 64q + 32h + 31 of its quarters q,
// i.e. 4 of the block's 8 runs, so each half keeps at most 48: what the AVX-512 kernel that puts
// words 0-1's levels in the low nibbles and words 2-3's in the high ones needs (issue 19). The
// format itself still holds any 96 of 256 (other files load and run on the slower kernel); at
// --sparsity f >= 0.625 the per-32 shares floor(f·b) − floor(f·a) prune >= 20 each and add up to
// the same per-256 and per-row counts as before, so only the placement is finer. These runs are
// what SparseGPT (masks per column block) and synth follow; magnitude and Wanda bound the halves
// themselves (MaskScope::kPerRowHalfBlock, mask_scope_for), which costs Wanda far less (pooled
// KLD +4.6 % against +22 % per run, docs/pruning.md), and the misfit check per run is the same
// threshold (f >= 0.625).
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

// Inputs per aligned row run whose kept count pruning into `type` bounds: the row block of its
// masks (MaskScope::kPerRowBlock). 32 for q4_qmask62, kSparseBlock for the other sparse types,
// 0 for a type that is not sparse.
int64_t sparse_mask_block(DType type);
// Kept weights such a run may hold: the block capacity scaled to the run (q4_qmask62: 12 of 32).
int sparse_run_capacity(DType type);

// "" when every run (sparse_mask_block) that `pattern` prunes (unstructured: per row block) fits
// `type`, else one line saying why and what fits. owl_lambda >= 0: OWL moves each layer's
// unstructured fraction by up to ±owl_lambda, and the lowest must fit too. "" for a type that is
// not sparse.
std::string sparse_storage_misfit(DType type, const SparsityPattern& pattern,
                                  double owl_lambda = -1);

// The sparse type a whole-model --type names ("q4_2of4", any case), or nullopt.
std::optional<DType> sparse_storage_type(std::string_view name);

// The override that puts every block linear weight (blk.N.attn_q … ffn_down) into `type`.
TensorTypeOverride sparse_block_override(DType type);

}  // namespace edgefit
