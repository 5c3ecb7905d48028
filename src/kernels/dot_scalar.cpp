// Scalar reference kernels: they define the result every SIMD kernel must reproduce bit for bit.
// Integer sums per sub-block are exact; float appears only in the scale products and the lane
// accumulation, in the canonical order described in kernels.h. Activations are ggml's own blocks
// (BlockQ8_0 / BlockQ8_K), so these also document the math on the unregrouped data.
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "quant/quant_traits.h"

namespace edgefit::kernels::detail {

using quant::BlockIQ4_NL;
using quant::BlockQ2_K;
using quant::BlockQ3_K;
using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ4_K;
using quant::BlockQ5_0;
using quant::BlockQ5_1;
using quant::BlockQ5_K;
using quant::BlockQ6_K;
using quant::BlockQ8_0;
using quant::BlockQ8_K;

namespace {

// lane += s · isum as one rounding, like the SIMD fmadd.
inline void lane_fma(float* lane, float s, int32_t isum) {
  *lane = std::fma(s, static_cast<float>(isum), *lane);
}

template <typename Block, int (*Level)(const Block&, int)>
float dot_32blocks(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const Block*>(w_row);
  const auto* a = static_cast<const BlockQ8_0*>(act_row);
  float acc[kLanes] = {};
  for (int64_t b = 0; b < n / quant::kQK; ++b) {
    int32_t isum = 0;
    for (int i = 0; i < quant::kQK; ++i) isum += Level(w[b], i) * a[b].qs[i];
    const float s = fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d);
    lane_fma(&acc[b % kLanes], s, isum);
  }
  return reduce16(acc);
}

// Q4_1 and Q5_1 (value = d·q + m): lane b % 16 += (d · activation scale) · isum, then
// += (m · activation scale) · Σ activation quants, both fused, as the k-quants' min term (with
// the sign flipped: the panels store dmin = m and an integer min of -1). ggml pairs these with
// Q8_1 activations, whose s = fp16(d · Σq) rounds the sum; the exact Σq here is the same blocks'
// quants, so Q8_0 blocks carry everything.
template <typename Block, int (*Level)(const Block&, int)>
float dot_32blocks_min(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const Block*>(w_row);
  const auto* a = static_cast<const BlockQ8_0*>(act_row);
  float acc[kLanes] = {};
  for (int64_t b = 0; b < n / quant::kQK; ++b) {
    int32_t isum = 0, asum = 0;
    for (int i = 0; i < quant::kQK; ++i) {
      isum += Level(w[b], i) * a[b].qs[i];
      asum += a[b].qs[i];
    }
    const float ad = fp16_to_fp32(a[b].d);
    float* lane = &acc[b % kLanes];
    lane_fma(lane, fp16_to_fp32(w[b].d) * ad, isum);
    lane_fma(lane, fp16_to_fp32(w[b].m) * ad, asum);
  }
  return reduce16(acc);
}

// Q2_K: lane = sub-block of 16 (one super-block per 16 lanes), scale term then min term (as
// Q4_K's, with 4-bit scales and mins).
float dot_q2_k(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ2_K*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float acc[kLanes] = {};
  for (int64_t b = 0; b < n / quant::kQK_K; ++b) {
    const float d = fp16_to_fp32(w[b].d) * a[b].d;
    const float dmin = fp16_to_fp32(w[b].dmin) * a[b].d;
    for (int j = 0; j < 16; ++j) {
      int32_t dot = 0;
      for (int i = 0; i < 16; ++i) dot += level_q2_k(w[b], 16 * j + i) * a[b].qs[16 * j + i];
      lane_fma(&acc[j], d, (w[b].scales[j] & 0xF) * dot);
      lane_fma(&acc[j], -dmin, (w[b].scales[j] >> 4) * a[b].bsums[j]);
    }
  }
  return reduce16(acc);
}

// Q3_K: lane = sub-block of 16, as Q6_K (signed 6-bit scales, no min).
float dot_q3_k(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ3_K*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float acc[kLanes] = {};
  for (int64_t b = 0; b < n / quant::kQK_K; ++b) {
    const float d = fp16_to_fp32(w[b].d) * a[b].d;
    for (int j = 0; j < 16; ++j) {
      int32_t dot = 0;
      for (int i = 0; i < 16; ++i) dot += level_q3_k(w[b], 16 * j + i) * a[b].qs[16 * j + i];
      lane_fma(&acc[j], d, scale_q3_k(w[b].scales, j) * dot);
    }
  }
  return reduce16(acc);
}

// Q4_K and Q5_K: lane = 8·(super-block mod 2) + sub-block; scale term, then min term.
template <typename Block, int (*Level)(const Block&, int)>
float dot_k4(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const Block*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float acc[kLanes] = {};
  for (int64_t b = 0; b < n / quant::kQK_K; ++b) {
    const float d = fp16_to_fp32(w[b].d) * a[b].d;
    const float dmin = fp16_to_fp32(w[b].dmin) * a[b].d;
    for (int j = 0; j < 8; ++j) {
      int32_t dot = 0;
      for (int i = 0; i < 32; ++i) dot += Level(w[b], 32 * j + i) * a[b].qs[32 * j + i];
      int sc, m;
      scale_min_k4(j, w[b].scales, &sc, &m);
      float* lane = &acc[8 * (b % 2) + j];
      lane_fma(lane, d, sc * dot);
      lane_fma(lane, -dmin, m * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]));
    }
  }
  return reduce16(acc);
}

float dot_q6_k(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const BlockQ6_K*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float acc[kLanes] = {};
  for (int64_t b = 0; b < n / quant::kQK_K; ++b) {
    const float d = fp16_to_fp32(w[b].d) * a[b].d;
    for (int j = 0; j < 16; ++j) {
      int32_t dot = 0;
      for (int i = 0; i < 16; ++i) dot += level_q6_k(w[b], 16 * j + i) * a[b].qs[16 * j + i];
      lane_fma(&acc[j], d, w[b].scales[j] * dot);
    }
  }
  return reduce16(acc);
}

// Float weights: 16 FMA lanes (element i in lane i mod 16) and reduce16, as the AVX-512 kernel.
template <float (*ToF32)(uint16_t)>
float dot_half(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const uint16_t*>(w_row);
  const auto* x = static_cast<const float*>(act_row);
  float acc[kLanes] = {};
  for (int64_t i = 0; i < n; ++i) acc[i % kLanes] = std::fma(ToF32(w[i]), x[i], acc[i % kLanes]);
  return reduce16(acc);
}

float dot_f32(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const float*>(w_row);
  const auto* x = static_cast<const float*>(act_row);
  float acc[kLanes] = {};
  for (int64_t i = 0; i < n; ++i) acc[i % kLanes] = std::fma(w[i], x[i], acc[i % kLanes]);
  return reduce16(acc);
}

size_t q8_0_bytes(int64_t n) {
  return static_cast<size_t>(n / quant::kQK) * sizeof(BlockQ8_0);
}
size_t q8_k_bytes(int64_t n) {
  return static_cast<size_t>(n / quant::kQK_K) * sizeof(BlockQ8_K);
}

void prep_q8_0(const float* x, int64_t n, void* out) {
  quantize_act_q8_0(x, static_cast<BlockQ8_0*>(out), n);
}
void prep_q8_k(const float* x, int64_t n, void* out) {
  quantize_act_q8_k(x, static_cast<BlockQ8_K*>(out), n);
}

template <VecDotFn Dot>
void gemm_loop(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
               size_t act_stride, int64_t n_tok, float* y, int64_t y_stride) {
  for (int64_t t = 0; t < n_tok; ++t) {
    const void* a = static_cast<const uint8_t*>(act) + t * act_stride;
    for (int64_t r = 0; r < n_rows; ++r) {
      y[t * y_stride + r] = Dot(n, static_cast<const uint8_t*>(w) + r * w_stride, a);
    }
  }
}

template <VecDotFn Dot>
constexpr FormatKernels quant_kernels(DType wt, DType at, int bs, ActRowBytesFn bytes,
                                      PrepareActFn prep, uint8_t packing = 0) {
  return {wt, packing, at, bs, bytes, prep, Dot, gemm_loop<Dot>};
}

// The entry of integer format F with reference dot Dot (kPacked: on F's repacked rows); weight
// and activation types, block size and packing come from F (panel.h, isa_tables.h), as in the
// SIMD tables, so only the pairing of F with its reference is written by hand.
template <QFormat F, VecDotFn Dot, bool kPacked = false>
constexpr FormatKernels ref_kernels() {
  constexpr bool kQ8K = qformat_act_dtype(F) == DType::Q8_K;
  return quant_kernels<Dot>(qformat_dtype(F), qformat_act_dtype(F), qformat_info(F).block_elems,
                            kQ8K ? q8_k_bytes : q8_0_bytes, kQ8K ? prep_q8_k : prep_q8_0,
                            kPacked ? qformat_packing(F) : uint8_t{0});
}

}  // namespace

size_t f32_act_bytes(int64_t n) {
  return static_cast<size_t>(n) * sizeof(float);
}

void copy_f32_act(const float* x, int64_t n, void* out) {
  std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
}

float ref_dot_q8_0(int64_t n, const void* w, const void* a) {
  return dot_32blocks<BlockQ8_0, level_q8_0>(n, w, a);
}
float ref_dot_q4_0(int64_t n, const void* w, const void* a) {
  return dot_32blocks<BlockQ4_0, level_q4_0>(n, w, a);
}
float ref_dot_q4_k(int64_t n, const void* w, const void* a) {
  return dot_k4<BlockQ4_K, level_q4_k>(n, w, a);
}
float ref_dot_q5_k(int64_t n, const void* w, const void* a) {
  return dot_k4<BlockQ5_K, level_q5_k>(n, w, a);
}
float ref_dot_q6_k(int64_t n, const void* w, const void* a) {
  return dot_q6_k(n, w, a);
}
float ref_dot_q4_1(int64_t n, const void* w, const void* a) {
  return dot_32blocks_min<BlockQ4_1, level_q4_1>(n, w, a);
}
float ref_dot_q5_0(int64_t n, const void* w, const void* a) {
  return dot_32blocks<BlockQ5_0, level_q5_0>(n, w, a);
}
float ref_dot_q5_1(int64_t n, const void* w, const void* a) {
  return dot_32blocks_min<BlockQ5_1, level_q5_1>(n, w, a);
}
float ref_dot_iq4_nl(int64_t n, const void* w, const void* a) {
  return dot_32blocks<BlockIQ4_NL, level_iq4_nl>(n, w, a);
}
float ref_dot_q2_k(int64_t n, const void* w, const void* a) {
  return dot_q2_k(n, w, a);
}
float ref_dot_q3_k(int64_t n, const void* w, const void* a) {
  return dot_q3_k(n, w, a);
}

// Repacked weights (kernels.h): the row back in ggml's layout, then the reference above. Packing
// only moves bytes, so this is the result every packed SIMD kernel must equal.
template <QFormat F, VecDotFn Ref>
float dot_packed(int64_t n, const void* w, const void* a) {
  constexpr DType T = qformat_dtype(F);
  const int64_t shape[2] = {1, n};
  TensorView v = TensorView::contiguous(T, shape, w);
  v.packing = qformat_packing(F);
  thread_local std::vector<uint8_t> row;
  row.resize(quant_row_size(T, n));
  unpack_packed_row(v, 0, row.data());
  return Ref(n, row.data(), a);
}

// Row-interleaved float weights (whole groups of rows, w at a group's first row): each row back
// in ggml's layout, then the reference. There is no vec_dot: one row of a group is not
// contiguous.
template <uint8_t Packing, DType T, VecDotFn Ref>
void gemm_interleaved(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
                      size_t act_stride, int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t shape[2] = {n_rows, n};
  TensorView v = TensorView::contiguous(T, shape, w);
  v.packing = Packing;
  if (v.row_bytes() != w_stride) throw Error("gemm_interleaved: interleaved rows must be dense");
  thread_local std::vector<uint8_t> row;
  row.resize(v.row_bytes());
  for (int64_t r = 0; r < n_rows; ++r) {
    unpack_packed_row(v, r, row.data());
    for (int64_t t = 0; t < n_tok; ++t)
      y[t * y_stride + r] = Ref(n, row.data(), static_cast<const uint8_t*>(act) + t * act_stride);
  }
}
float ref_dot_f16(int64_t n, const void* w, const void* a) {
  return dot_half<fp16_to_fp32>(n, w, a);
}
float ref_dot_bf16(int64_t n, const void* w, const void* a) {
  return dot_half<bf16_to_fp32>(n, w, a);
}
float ref_dot_f32(int64_t n, const void* w, const void* a) {
  return dot_f32(n, w, a);
}

namespace {

KernelDispatch make_scalar_table() {
  using F = QFormat;
  using S = KernelSlot;
  KernelDispatch kd{Isa::kScalar, "scalar"};
  kd.set(S::kQ8_0, ref_kernels<F::kQ8_0, ref_dot_q8_0>())
      .set(S::kQ4_0, ref_kernels<F::kQ4_0, ref_dot_q4_0>())
      .set(S::kQ4_1, ref_kernels<F::kQ4_1, ref_dot_q4_1>())
      .set(S::kQ5_0, ref_kernels<F::kQ5_0, ref_dot_q5_0>())
      .set(S::kQ5_1, ref_kernels<F::kQ5_1, ref_dot_q5_1>())
      .set(S::kIQ4_NL, ref_kernels<F::kIQ4_NL, ref_dot_iq4_nl>())
      .set(S::kQ2_K, ref_kernels<F::kQ2_K, ref_dot_q2_k>())
      .set(S::kQ3_K, ref_kernels<F::kQ3_K, ref_dot_q3_k>())
      .set(S::kQ4_K, ref_kernels<F::kQ4_K, ref_dot_q4_k>())
      .set(S::kQ5_K, ref_kernels<F::kQ5_K, ref_dot_q5_k>())
      .set(S::kQ6_K, ref_kernels<F::kQ6_K, ref_dot_q6_k>())
      .set(S::kF16,
           quant_kernels<ref_dot_f16>(DType::F16, DType::F32, 1, f32_act_bytes, copy_f32_act))
      .set(S::kBF16,
           quant_kernels<ref_dot_bf16>(DType::BF16, DType::F32, 1, f32_act_bytes, copy_f32_act))
      .set(S::kF32,
           quant_kernels<ref_dot_f32>(DType::F32, DType::F32, 1, f32_act_bytes, copy_f32_act))
      .set(S::kQ4_0x16, ref_kernels<F::kQ4_0, dot_packed<F::kQ4_0, ref_dot_q4_0>, true>())
      .set(S::kQ8_0x16, ref_kernels<F::kQ8_0, dot_packed<F::kQ8_0, ref_dot_q8_0>, true>())
      .set(S::kQ4_Kx2, ref_kernels<F::kQ4_K, dot_packed<F::kQ4_K, ref_dot_q4_k>, true>())
      .set(S::kQ6_Kx1, ref_kernels<F::kQ6_K, dot_packed<F::kQ6_K, ref_dot_q6_k>, true>())
      .set(S::kF16x4,
           {DType::F16, kPackingF16x4, DType::F32, kInterleaveRun, f32_act_bytes, copy_f32_act,
            nullptr, gemm_interleaved<kPackingF16x4, DType::F16, ref_dot_f16>})
      .set(S::kBF16x4,
           {DType::BF16, kPackingBF16x4, DType::F32, kInterleaveRun, f32_act_bytes, copy_f32_act,
            nullptr, gemm_interleaved<kPackingBF16x4, DType::BF16, ref_dot_bf16>})
      .set(S::kF32x4,
           {DType::F32, kPackingF32x4, DType::F32, kInterleaveRun, f32_act_bytes, copy_f32_act,
            nullptr, gemm_interleaved<kPackingF32x4, DType::F32, ref_dot_f32>});
  add_sparse_kernels(kd);  // last: the sparse slots (dot_sparse_*.cpp)
  return kd;
}

}  // namespace

const KernelDispatch& scalar_dispatch() {
  static const KernelDispatch kd = make_scalar_table();
  return kd;
}

}  // namespace edgefit::kernels::detail
