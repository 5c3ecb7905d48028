// NEON kernels of the sparse types (kernels.h, "The sparse types"), bit-identical to the scalar
// twins in dot_sparse_scalar.cpp; registered in the NEON and NEON-dotprod tables (plain Advanced
// SIMD only, so one file serves both; Q4_QMASK62's sdot variant is dot_sparse_qmask_dotprod.cpp).
//
// 2:4, gather by table: every index byte (2 groups, 8 weights) keeps exactly 4, so the control of
// one index byte (sparse_controls.h) picks its 4 kept activation quants out of 8, and one `tbl` per
// 16 weights (two index bytes, the second's control offset by 8) gathers 8 kept quants in weight
// order. A value block's 32 kept quants are then two 16-byte vectors, kept values 0-15 and 16-31,
// which is how the Q4_0 nibbles split (low and high); smull/smlal + sadalp give the exact sum.
//
// Masks, the same table idea with a variable count: one `tbl` per mask byte packs its kept quants
// to the front of its 8 (kCompress8Controls; control 0x80 reads as 0), stored at the running
// offset into a zeroed gathered row, as the AVX2 kernel's pshufb; then each value block's 32
// gathered quants go through the same exact sum as 2:4.
#include <arm_neon.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "kernels/qmask_act.h"
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

// Σ (level − 8) · quant over a value block and its 32 kept quants: x0 = kept values 0-15 (the
// low nibbles'), x1 = 16-31 (the high ones').
inline int32_t value_block_isum(const quant::BlockQ4_0& vb, int8x16_t x0, int8x16_t x1) {
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

// Value block v of a 2:4 block: its 32 kept quants (weights 64v … 64v+63) gathered by table.
inline int32_t dot_value_block(const quant::BlockQ4_0& vb, const uint8_t* idx, const int8_t* qs) {
  const int8x16_t x0 = vcombine_s8(gather8(idx, qs), gather8(idx + 2, qs + 16));
  const int8x16_t x1 = vcombine_s8(gather8(idx + 4, qs + 32), gather8(idx + 6, qs + 48));
  return value_block_isum(vb, x0, x1);
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

// The quants at a mask block's kept positions in weight order into dst, zeros past the count up
// to kCapacity (dst: kCapacity + 8 bytes, room for the last 8-byte store).
template <int kCapacity>
inline void gather_mask_block(const uint8_t* mask, const int8_t* qs, int8_t* dst) {
  for (int i = 0; i < kCapacity; i += 16) vst1q_s8(dst + i, vdupq_n_s8(0));
  unsigned off = 0;
  for (int i = 0; i < kSparseBlock / 8; ++i) {
    // loads of ≤ 8 bytes whatever the offset: no alignment assumed
    const int8x8_t packed = vtbl1_s8(vld1_s8(qs + 8 * i), vcreate_s8(kCompress8Controls[mask[i]]));
    vst1_s8(dst + off, packed);
    off += static_cast<unsigned>(std::popcount(mask[i]));
  }
}

// kVB value blocks per block (4: Q4_MASK50, 3: Q4_MASK62); value block v of the row into lane
// v % 16 with the scalar twin's float steps (one std::fma each).
template <int kVB>
float dot_mask(int64_t n, const void* w_row, const void* act_row) {
  constexpr int kCapacity = 32 * kVB;
  using Block = BlockQ4_Mask<kCapacity>;
  const auto* w = static_cast<const Block*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  alignas(16) int8_t gathered[kCapacity + 16];
  float lanes[kLanes] = {};
  int64_t v = 0;  // value block of the row
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    gather_mask_block<kCapacity>(w[b].mask, a[b].qs, gathered);
    for (int j = 0; j < kVB; ++j, ++v) {
      const int32_t isum = value_block_isum(w[b].values[j], vld1q_s8(gathered + 32 * j),
                                            vld1q_s8(gathered + 32 * j + 16));
      float& lane = lanes[v % kLanes];
      lane = std::fma(fp16_to_fp32(w[b].values[j].d) * a[b].d, static_cast<float>(isum), lane);
    }
  }
  return reduce16(lanes);
}

// ---------------------------------------------------------------- Q4_QMASK62: tbl expand
//
// Plain NEON's lane_dot: smull by halves, one pairwise add of the two (|each pair| ≤ 2 · 8 · 128,
// in int16) and a pairwise widening accumulate give dword lane j the Σ of bytes 4j … 4j + 3.
inline int32x4_t lane_dot(int32x4_t acc, int8x16_t w, int8x16_t x) {
  const int16x8_t lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
  const int16x8_t hi = vmull_high_s8(w, x);
  return vpadalq_s16(acc, vpaddq_s16(lo, hi));
}

#include "kernels/dot_sparse_qmask_neon.inc"

}  // namespace

FormatKernels neon_sparse_qmask62_kernels(const FormatKernels& scalar_twin) {
  return qmask62_entry(scalar_twin);
}

FormatKernels neon_sparse_mask_kernels(const FormatKernels& scalar_twin) {
  return scalar_twin.weight_type == DType::Q4_MASK50 ? with_sparse_dot<dot_mask<4>>(scalar_twin)
                                                     : with_sparse_dot<dot_mask<3>>(scalar_twin);
}

FormatKernels neon_sparse_2of4_kernels(const FormatKernels& scalar_twin) {
  return with_sparse_dot<dot_2of4>(scalar_twin);
}

}  // namespace edgefit::kernels::detail
