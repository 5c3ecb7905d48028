// SparseGPT (Frantar & Alistarh, 2023): prune a linear layer — and optionally quantize it in the
// same pass — with Optimal Brain Surgeon updates, on the GPTQ machinery.
//
// The layer's reconstruction error ‖(W − Ŵ)·Xᵀ‖² has the Hessian H = 2·XᵀX / n (dampened), the
// same for every row. Columns are processed left to right. Zeroing (or rounding) weight w_ij
// costs (w_ij − q_ij)² / [H⁻¹]_jj and is best compensated by moving the not-yet-processed weights
// of its row along row j of H⁻¹; with U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU, gptq.h) that
// update is w_i,k>j −= (w_ij − q_ij) / U_jj · U_jk, exactly GPTQ's update with "round to zero"
// as one more rounding. The updates are applied in lazy batches of B columns (one matrix product
// per batch for the columns after it), as GPTQ does. B is gptq.block_size rounded down to a whole
// number of lcm(mask_block or M, quantization block) columns (at least one such unit); with the
// defaults it is GPTQ's own B, so with nothing pruned the output bytes are gptq_quantize's.
//
// Adaptive mask selection: the mask is not fixed up front but chosen as the columns arrive, from
// the current, already-updated weights, by the OBS saliency w² / U_jj² (U_jj² = [H⁻¹]_jj after
// the previous columns are eliminated):
// - unstructured: per block of `mask_block` columns, the block's share of the pruned count
//   (cumulative floors, so a row or layer gets exactly floor(f · size) over all its blocks),
//   compared per row or over all rows of the block (MaskScope; kPerRowBlock takes mask blocks
//   that tile its row blocks, gcd(mask_block, row_block), so each gets its exact share: 256
//   inputs for most sparse types, so 128-column mask blocks as unstructured; 32 for q4_qmask62,
//   whose masks are then chosen every 32 columns);
// - N:M: per group of M columns of each row, when the group is reached.
//
// Joint quantization (the paper's "SparseGPT + GPTQ", §3.3): with a target format of
// gptq_grid.h, when the column loop reaches a quantization block the format's own quantizer
// chooses the block's scales (with H's diagonal as importance, as GPTQ). Kept weights are rounded
// to that grid, pruned ones take the grid's zero code, and both errors flow through the same
// update. The pruned weights enter the scale fit as zeros with their column's importance, like
// every other weight: in the formats with a per-block minimum (Q4_K: value = d·sc·q − dmin·m) 0
// is not on the grid in general, and a pruned weight stores the code nearest 0; weighing those
// zeros makes the fit put a level near 0 (a soft zero-point snap), so their stored error is small
// and little is left for the OBS update to compensate. With no importance for them (the first
// version) the fit ignored half the block's stored values: on the synthetic layer below, Q4_K at
// 0.5 adds 17.5 to pruning's error with no importance, 10.0 with it; on polyglot (Q4_K_M) the
// mean KLD goes 0.00768 → 0.00747 (docs/pruning.md).
//
// Lookahead: the scales are fitted not to the block's weights as they are when the loop reaches
// it, but as they will be when each column is rounded: a prune-only OBS pass over the block (on a
// copy of each row) first chooses the row masks that start in the block, as the columns arrive,
// and applies the pruning errors within the block. Pruning moves the later columns of a block far
// more than rounding does (50 % of the weights go to 0, each error pushed onto the rest), so
// scales fitted before that move clip or waste range: on a synthetic layer at 0.5 the joint pass
// into Q4_K added 34.5 to pruning's output error of 119 without the lookahead, 17.5 with it (RTN
// of the pruned weights: 80); 2:4 43.7 → 27.6; Q5_K 28.6 → 6.9; Q4_0 19.3 → 16.2. The 256-wide
// blocks of the K formats gain most: a block spans 128 columns of pruning errors and more. On
// polyglot this turned joint Q4_K_M from 47 % worse than prune-then-RTN to level with it (mean
// KLD 0.00768 vs 0.00779). The lookahead costs a second in-block pass (bs²/2 per row and block),
// small against the lazy-batch products. Masks chosen per layer (MaskScope::kPerLayer) are chosen
// across all rows at their segment's start; the lookahead uses the ones already chosen and treats
// later columns of the block as kept.
//
// Choosing the whole block's mask up front from the weights before the block's updates, so the
// scales would see only survivors, measured worse (2:4 into Q4_K: output error 471 against 236
// with masks chosen as the columns arrive; 0.5: 190 against 154): the lookahead keeps the masks
// adaptive and still fits the scales to the final survivors.
//
// Exact zeros: the symmetric formats (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K) dequantize the zero code to
// exactly 0 (±0), so a pruned weight reads as 0 from the dense bytes. The formats with a per-block
// minimum (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K: value = step · q − min) and IQ4_NL (its 16-value table
// has no 0) cannot represent 0 in general: there a pruned weight takes the code nearest 0, the
// OBS update compensates the difference like any rounding error, `inexact_zeros` counts them, and
// the mask in the result stays authoritative (a sparse storage format stores it, so they read as
// exact zeros there).
//
// Pure math: no model, no files. Rows are independent given H and run in parallel, except that a
// per-layer mask block compares all rows (a short serial step per block).
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "prune/mask_select.h"
#include "prune/sparsity_pattern.h"
#include "quant/format_grid.h"
#include "solve/gptq.h"

namespace edgefit {

struct SparseGptOptions {
  SparsityPattern pattern;               // what to prune
  MaskGroup scope = MaskScope::kPerRow;  // comparison group of an unstructured mask block
  int mask_block = 128;                  // columns per adaptive mask choice (unstructured; the
                                         // paper's Bs)
  DType type = DType::F32;               // F32: prune only; a sparsegpt_grid() format: prune
                                         // and quantize into it in the same pass
  GptqOptions gptq;                      // dampening, lazy-batch width, thread pool; act_order
                                         // must stay off (columns run in their own order)
};

struct SparseGptResult {
  std::vector<float> weights;   // type F32: [rows, cols] pruned and updated weights; else empty
  std::vector<uint8_t> bytes;   // quantized: [rows, quant_row_size(type, cols)] valid blocks of
                                // `type`; empty for F32
  std::vector<uint8_t> pruned;  // [rows, cols] the mask, 1 = pruned
  int64_t pruned_count = 0;     // ones in `pruned`
  int64_t inexact_zeros = 0;    // pruned weights whose dequantized value is not exactly 0
                                // (formats without an exact zero, see above); 0 for F32
  double proxy_loss = 0;        // Σ (w − q)² / U_jj² / 2: the OBS error estimate
  double damp = 0;              // dampening λ actually used
};

// The grid SparseGPT rounds `type` on: its GPTQ grid (format_grid.h), or a sparse storage type's
// (quant/q_sparse.h: q4_2of4, q4_mask50/62, q4_qmask62 — the mask is then the type's index or
// bitmask, fitted per 256-block after the lookahead zeroed the block's pruned weights); nullptr
// when SparseGPT can only prune into it (prune in f32, round after).
const FormatGrid* sparsegpt_grid(DType type);

// True when `type` dequantizes its zero code to exactly 0 for every block (see above).
bool sparsegpt_exact_zero(DType type);

// Prunes (and quantizes) W [rows, cols] (row-major f32) with a Hessian prepared by gptq_prepare
// without act-order. Throws Error for an unsupported type, a pattern that does not fit the rows,
// rows that are not whole blocks of the type, a Hessian of another width or in permuted order.
SparseGptResult sparsegpt_prune(const float* w, int64_t rows, int64_t cols, const GptqHessian& h,
                                const SparseGptOptions& options);
// gptq_prepare + the above, from H [cols, cols] (e.g. HessianAccumulator::finalize()).
SparseGptResult sparsegpt_prune(const float* w, int64_t rows, int64_t cols, const float* hessian,
                                const SparseGptOptions& options);

}  // namespace edgefit
