// Choosing which weights to prune from per-weight scores (low score = pruned first), with exact
// counts and deterministic ties, for every SparsityPattern. Magnitude, Wanda and OWL call this
// on a whole layer; SparseGPT calls the group primitive on the columns it reaches.
//
// A mask is one byte per weight of a row-major [rows, cols] matrix: 1 = pruned (the weight
// becomes exactly zero), 0 = kept.
#pragma once

#include <cstdint>
#include <vector>

#include "prune/sparsity_pattern.h"

namespace edgefit {

// The comparison group of an unstructured fraction (N:M always compares within its M inputs).
enum class MaskScope {
  kPerRow,       // floor(f · cols) per output row: Wanda's choice, every row keeps the same count
  kPerLayer,     // floor(f · rows · cols) over the whole matrix: classic magnitude pruning
  kPerRowBlock,  // per row, in aligned blocks of MaskGroup::row_block inputs, block [a, b)
                 // pruning floor(f · b) − floor(f · a): the row still prunes floor(f · cols), and
                 // every block a bounded count, which the sparse storage formats need
  kPerRowHalfBlock,  // as kPerRowBlock, each block split in two interleaved halves of its 8 runs
                     // (row_block / 8 inputs each; half h = runs h, h + 2, h + 4, h + 6), the
                     // first half pruning floor(f · (a + B/2)) − floor(f · a), the second the rest
                     // of the block's share: q4_qmask62's slot halves (weights 64q + 32h …),
                     // chosen whole by the methods that score every weight at once
};

// The default inputs per block of MaskScope::kPerRowBlock (the sparse storage formats' block).
inline constexpr int64_t kMaskRowBlock = 256;

// A comparison group in full: the scope, and the block width when it is kPerRowBlock. A bare
// MaskScope converts to it with the default width, so callers that need no other width name the
// scope alone; the sparse types pick theirs through mask_scope_for() (compress/methods/
// prune_block.h: q4_qmask62 per slot half, or per 32-input run for SparseGPT).
struct MaskGroup {
  MaskScope scope = MaskScope::kPerRow;  // which weights are compared
  int64_t row_block = kMaskRowBlock;     // kPerRowBlock, kPerRowHalfBlock: inputs per block
                                         // (>= 1; kPerRowHalfBlock: a multiple of 8; ignored by
                                         // the other scopes)
  MaskGroup() = default;
  // Implicit on purpose: a scope alone is the group with the default block width.
  MaskGroup(MaskScope s, int64_t block = kMaskRowBlock) : scope(s), row_block(block) {}  // NOLINT
};

// Marks the `count` lowest of scores[0 … n) (element i at scores[i · stride]) as pruned in
// pruned[i · stride] (other elements are left as they are). Ties: among equal scores the lower
// index is pruned first, so the result never depends on the sort's internals. NaN scores count
// as lowest. Throws Error when count is not in [0, n].
void mark_lowest(const float* scores, int64_t n, int64_t stride, int64_t count, uint8_t* pruned);

// The mask of `pattern` over scores [rows, cols]. Throws Error when the pattern does not fit the
// rows (N:M on cols not divisible by M), the shape is empty or a row block is below 1.
std::vector<uint8_t> select_mask(const float* scores, int64_t rows, int64_t cols,
                                 const SparsityPattern& pattern,
                                 MaskGroup group = MaskScope::kPerRow);

// Weights with a mask applied, and the count of pruned weights.
struct PrunedWeights {
  std::vector<float> weights;   // [rows, cols]: the input with the pruned weights set to +0
  std::vector<uint8_t> pruned;  // [rows, cols]: the mask (1 = pruned)
  int64_t pruned_count = 0;     // ones in `pruned`
};

// Applies a mask to w [rows, cols].
PrunedWeights apply_mask(const float* w, int64_t rows, int64_t cols, std::vector<uint8_t> pruned);

// Throws Error unless `pruned` [rows, cols] follows the pattern exactly: N:M with exactly M − N
// pruned per group; an unstructured fraction with exactly floor(f · group) per comparison group.
// The check tests (and a loader) use: a mask that claims a pattern has to keep it.
void check_mask(const uint8_t* pruned, int64_t rows, int64_t cols, const SparsityPattern& pattern,
                MaskGroup group = MaskScope::kPerRow);

}  // namespace edgefit
