// Scale searches shared by the block quantizers (internal to src/quant).
//
// These are re-derivations of ggml's helpers (ggml-quants.c, b4748): given a group of weights they
// pick integer levels L and a scale (and for asymmetric formats a min) that minimise a weighted
// squared (or absolute) error. The float operations are written in exactly ggml's order, because
// the reference bytes in ../shared were produced by them and a single different rounding flips a
// level. Do not "simplify" an expression here (e.g. a*b*c into a*(b*c)) without re-running the
// reference tests; this file is compiled with -ffp-contract=off for the same reason.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgefit::quant {

// Round to the nearest integer, ties to even, via ggml's magic-number trick: adding 1.5·2^23
// leaves the rounded integer in the low mantissa bits. Valid for |f| <= 2^22; outside that (and for
// NaN/inf) the result is some deterministic garbage that callers clamp, exactly as in ggml.
inline int nearest_int(float f) {
  const float biased = f + 12582912.f;
  const int32_t bits = std::bit_cast<int32_t>(biased);
  return (bits & 0x007fffff) - 0x00400000;
}

// Float-to-int conversion with x86's cvttss2si semantics: truncation toward zero, and INT32_MIN
// for NaN or out-of-range inputs. ggml casts floats straight to small integer types; this keeps
// those casts defined behaviour (UBSan-clean) while giving the same bytes as the x86 build.
inline int32_t trunc_to_int(float f) {
  if (f > -2147483904.f && f < 2147483648.f) return static_cast<int32_t>(f);
  return INT32_MIN;
}

// Index of the entry of the sorted table val[0..n) nearest to x (ties go to the upper entry).
int best_index_int8(int n, const int8_t* val, float x);

// Symmetric levels in [-nmax, nmax-1] (stored biased by +nmax in L) with one scale for n weights.
// rmse_type 0: plain absmax scaling; 1..4: least-squares refinement with weights x², 1, |x|, √|x|
// (or qw when non-null) over 19 candidate scales; negative: one refinement step only.
// Returns the scale.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);

// Q3_K's variant of the above: absmax start then coordinate-descent on single levels (weights x²).
// L is biased by +nmax. Returns the scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// Asymmetric levels in [0, nmax] with a scale and a min (x ≈ scale*L - the_min), searching nstep+1
// scales around nmax/(max-min) and solving the weighted least-squares (scale, min) at each.
// use_mad selects weighted absolute instead of squared error. Returns the scale; *the_min >= 0.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// Same search as make_qkx2_quants, used by ggml's importance-matrix paths; weights may be null
// (then x² is used) and the level computation is guarded against a min that drifted near max.
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// Non-negative levels in [0, nmax] for non-negative x (sub-block scales/mins of a super-block),
// weighted by quant_weights. Returns the super-scale.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// Importance-weighted squared error sum(w[i] * (x[i] - y[i])²), in double.
double weighted_sq_error(const float* x, const float* y, const float* w, int64_t n);

using BlockDequantFn = void (*)(const void* src, float* dst, int64_t n);

// Candidate selection for the importance paths. `ours` holds n weights quantized by the
// importance-aware search, `alt` the same weights quantized without importance (ggml's reference
// quantizer). Block by block, the candidate with the lower importance-weighted squared error is
// kept in `ours` (ties keep ours). This makes the importance path never worse than the reference
// bytes under the importance metric, block by block.
void keep_better_blocks(const float* x, const float* importance, int64_t n, int block_size,
                        size_t type_size, void* ours, const void* alt, BlockDequantFn dequant);

// The common shape of every importance-aware row quantizer: without importance, ggml's reference
// quantizer; with it, the importance search followed by keep_better_blocks against the reference.
template <class Block, int kBlockSize>
void quantize_with_importance(const float* x, Block* y, int64_t n, const float* importance,
                              void (*reference)(const float*, Block*, int64_t),
                              void (*search)(const float*, Block*, int64_t, const float*),
                              BlockDequantFn dequant) {
  if (!importance) {
    reference(x, y, n);
    return;
  }
  search(x, y, n, importance);
  std::vector<Block> alt(static_cast<size_t>(n / kBlockSize));
  reference(x, alt.data(), n);
  keep_better_blocks(x, importance, n, kBlockSize, sizeof(Block), y, alt.data(), dequant);
}

}  // namespace edgefit::quant
