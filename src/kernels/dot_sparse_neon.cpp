// NEON kernel of the 2:4 sparse type (kernels.h, "The sparse types"), bit-identical to the scalar
// twin in dot_sparse_scalar.cpp; registered in the NEON and NEON-dotprod tables (plain Advanced
// SIMD only, so one file serves both). The mask types keep their scalar twins there for now.
//
// Gather by table: every index byte (2 groups, 8 weights) keeps exactly 4, so the control of one
// index byte (sparse_controls.h) picks its 4 kept activation quants out of 8, and one `tbl` per 16
// weights (two index bytes, the second's control offset by 8) gathers 8 kept quants in weight
// order. A value block's 32 kept quants are then two 16-byte vectors, kept values 0-15 and 16-31,
// which is how the Q4_0 nibbles split (low and high); smull/smlal + sadalp give the exact sum.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "kernels/sparse_controls.h"
#include "kernels/sparse_gemm.h"
#include "quant/q_sparse.h"

namespace edgefit::kernels::detail {

using quant::BlockQ8_K;

namespace {

// The 8 kept quants of 16 weights (index bytes idx[0], idx[1]) in weight order.
inline int8x8_t gather8(const uint8_t* idx, const int8_t* qs) {
  const uint64_t c = k2of4Controls[idx[0]] | uint64_t{k2of4Controls[idx[1]] + 0x08080808u} << 32;
  return vqtbl1_s8(vld1q_s8(qs), vcreate_u8(c));
}

// Σ (level − 8) · quant over value block v of a block: its 32 kept quants (weights 64v … 64v+63).
inline int32_t dot_value_block(const quant::BlockQ4_0& vb, const uint8_t* idx, const int8_t* qs) {
  const int8x16_t x0 = vcombine_s8(gather8(idx, qs), gather8(idx + 2, qs + 16));
  const int8x16_t x1 = vcombine_s8(gather8(idx + 4, qs + 32), gather8(idx + 6, qs + 48));
  const uint8x16_t q = vld1q_u8(vb.qs);
  const int8x16_t eight = vdupq_n_s8(8);
  const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), eight);
  const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
  int16x8_t p = vmull_s8(vget_low_s8(lo), vget_low_s8(x0));
  p = vmlal_s8(p, vget_high_s8(lo), vget_high_s8(x0));
  int16x8_t r = vmull_s8(vget_low_s8(hi), vget_low_s8(x1));
  r = vmlal_s8(r, vget_high_s8(hi), vget_high_s8(x1));
  // |each int16 term| ≤ 2 · 8 · 127: no overflow before widening
  return vaddvq_s32(vpadalq_s16(vpaddlq_s16(p), r));
}

float dot_2of4(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ4_2of4*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float32x4_t groups[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    int32_t isum[4];
    float d[4];
    for (int v = 0; v < 4; ++v) {
      isum[v] = dot_value_block(w[b].values[v], w[b].idx + 8 * v, a[b].qs + 64 * v);
      d[v] = fp16_to_fp32(w[b].values[v].d);
    }
    // lanes 4(b % 4) … + 3: lane += (d_v · act d) · isum_v, one fused step each (the twin's fma)
    const float32x4_t s = vmulq_n_f32(vld1q_f32(d), a[b].d);
    groups[b % 4] = vfmaq_f32(groups[b % 4], s, vcvtq_f32_s32(vld1q_s32(isum)));
  }
  float lanes[kLanes];
  for (int i = 0; i < 4; ++i) vst1q_f32(lanes + 4 * i, groups[i]);
  return reduce16(lanes);
}

}  // namespace

FormatKernels neon_sparse_2of4_kernels(const FormatKernels& scalar_twin) {
  return with_sparse_dot<dot_2of4>(scalar_twin);
}

}  // namespace edgefit::kernels::detail
