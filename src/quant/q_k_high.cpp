// The 4-, 5- and 6-bit k-quants (Q4_K, Q5_K, Q6_K) and the activation format Q8_K.
//
// Q4_K/Q5_K: 8 sub-blocks of 32 weights, each with a 6-bit scale and a 6-bit min under two fp16
// super-scales. Without importance ggml's quantize_row_q*_K_ref runs make_qkx2_quants per
// sub-block with weights av_x + |x| (av_x = RMS of the sub-block). Q6_K: 16 sub-blocks of 16 with
// signed 8-bit scales, searched by make_qx_quants with weights x². With importance, ggml's
// quantize_row_q*_K_impl searches (make_qkx3_quants / make_qp_quants / weighted make_qx_quants).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "quant/block_formats.h"
#include "quant/kernels.h"
#include "quant/quant_search.h"

namespace edgefit::quant {

namespace {

constexpr int kSub = 32;               // weights per Q4_K/Q5_K sub-block
constexpr int kNumSub = kQK_K / kSub;  // 8

// Q4_K/Q5_K scale bytes: sub-blocks 0-3 keep their 6-bit scale/min in bytes 0-3 / 4-7; sub-blocks
// 4-7 keep the low nibbles in bytes 8-11 and the top 2 bits in the spare top bits of bytes 0-7.
void set_scale_min_k4(uint8_t* scales, const uint8_t* ls, const uint8_t* lm) {
  for (int j = 0; j < kNumSub; ++j) {
    if (j < 4) {
      scales[j] = ls[j];
      scales[j + 4] = lm[j];
    } else {
      scales[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      scales[j - 4] = static_cast<uint8_t>(scales[j - 4] | ((ls[j] >> 4) << 6));
      scales[j] = static_cast<uint8_t>(scales[j] | ((lm[j] >> 4) << 6));
    }
  }
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Re-quantizes each sub-block with its decoded scale and min (levels 0..nmax); sub-blocks whose
// decoded scale is zero keep the levels of the search, as in ggml.
void requantize_k4(const float* x, uint16_t d16, uint16_t dmin16, const uint8_t* scales, int nmax,
                   uint8_t* L) {
  for (int j = 0; j < kNumSub; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, &sc, &m);
    const float d = fp16_to_fp32(d16) * sc;
    if (!d) continue;
    const float dm = fp16_to_fp32(dmin16) * m;
    for (int ii = 0; ii < kSub; ++ii) {
      const int l = nearest_int((x[kSub * j + ii] + dm) / d);
      L[kSub * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

// The ggml reference search shared by Q4_K (nmax 15) and Q5_K (nmax 31): per-sub-block scale/min,
// then both sets quantized to 6 bits against their maxima. Fills scales/d/dmin and the levels L.
void k4_reference_scales(const float* x, int nmax, float rmin, int nstep, uint8_t* scale_bytes,
                         uint16_t* d16, uint16_t* dmin16, uint8_t* L) {
  uint8_t Laux[kSub], ls[kNumSub], lm[kNumSub];
  float weights[kSub], mins[kNumSub], scales[kNumSub];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kNumSub; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < kSub; ++l) sum_x2 += x[kSub * j + l] * x[kSub * j + l];
    const float av_x = std::sqrt(sum_x2 / kSub);
    for (int l = 0; l < kSub; ++l) weights[l] = av_x + std::fabs(x[kSub * j + l]);
    scales[j] = make_qkx2_quants(kSub, nmax, x + kSub * j, weights, L + kSub * j, &mins[j], Laux,
                                 rmin, 0.1f, nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kNumSub; ++j) {
    // ggml narrows to uint8_t before clamping to 63.
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  set_scale_min_k4(scale_bytes, ls, lm);
  *d16 = fp32_to_fp16(max_scale / 63.f);
  *dmin16 = fp32_to_fp16(max_min / 63.f);
  requantize_k4(x, *d16, *dmin16, scale_bytes, nmax, L);
}

// ggml's importance search shared by Q4_K and Q5_K for one super-block.
void k4_search_scales(const float* x, const float* qw, int nmax, uint8_t* scale_bytes,
                      uint16_t* d16, uint16_t* dmin16, uint8_t* L) {
  uint8_t Laux[kSub], ls[kNumSub], lm[kNumSub];
  float weights[kSub], sw[kNumSub], mins[kNumSub], scales[kNumSub];
  float sum_x2 = 0;
  for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / kQK_K;
  for (int j = 0; j < kNumSub; ++j) {
    const float* w = qw + kSub * j;
    for (int l = 0; l < kSub; ++l)
      weights[l] = w[l] * std::sqrt(sigma2 + x[kSub * j + l] * x[kSub * j + l]);
    float sumw = 0;
    for (int l = 0; l < kSub; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(kSub, nmax, x + kSub * j, weights, L + kSub * j, &mins[j], Laux,
                                 -0.9f, 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(kNumSub, 63, scales, ls, sw);
  const float m_block = make_qp_quants(kNumSub, 63, mins, lm, sw);
  set_scale_min_k4(scale_bytes, ls, lm);
  *d16 = fp32_to_fp16(d_block);
  *dmin16 = fp32_to_fp16(m_block);
  requantize_k4(x, *d16, *dmin16, scale_bytes, nmax, L);
}

// Q4_K nibbles: each 32-byte group holds 64 weights, the first 32 in the low nibbles.
void pack_q4_k(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 64) {
    for (int l = 0; l < 32; ++l) qs[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    qs += 32;
  }
}

// Q5_K: low 4 bits as in Q4_K, bit 4 of weight 32b + l into qh[l] bit b.
void pack_q5_k(const uint8_t* L, uint8_t* qs, uint8_t* qh) {
  std::memset(qh, 0, kQK_K / 8);
  for (int j = 0; j < kQK_K; j += 64) {
    for (int l = 0; l < 32; ++l) {
      const int b = j / 32;  // bit of the first half of this group; b+1 for the second
      int l1 = L[j + l], l2 = L[j + l + 32];
      if (l1 > 15) {
        l1 -= 16;
        qh[l] = static_cast<uint8_t>(qh[l] | (1 << b));
      }
      if (l2 > 15) {
        l2 -= 16;
        qh[l] = static_cast<uint8_t>(qh[l] | (2 << b));
      }
      qs[l] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    qs += 32;
  }
}

void q4_k_reference(const float* x, BlockQ4_K* y, int64_t n) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    k4_reference_scales(x, 15, -1.f, 20, y[i].scales, &y[i].d, &y[i].dmin, L);
    pack_q4_k(L, y[i].qs);
  }
}

void q4_k_search(const float* x, BlockQ4_K* y, int64_t n, const float* qw) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    k4_search_scales(x, qw + kQK_K * i, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
    pack_q4_k(L, y[i].qs);
  }
}

void q5_k_reference(const float* x, BlockQ5_K* y, int64_t n) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    k4_reference_scales(x, 31, -0.5f, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
    pack_q5_k(L, y[i].qs, y[i].qh);
  }
}

void q5_k_search(const float* x, BlockQ5_K* y, int64_t n, const float* qw) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    k4_search_scales(x, qw + kQK_K * i, 31, y[i].scales, &y[i].d, &y[i].dmin, L);
    pack_q5_k(L, y[i].qs, y[i].qh);
  }
}

// ---------------------------------------------------------------- Q6_K

// Shared tail of both Q6_K paths: given the 16 sub-block scales and search levels of a super-block,
// quantize the scales to int8 under one fp16 super-scale, re-quantize and pack.
void q6_k_finish(const float* x, const float* scales, int8_t* L, BlockQ6_K& y) {
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float abs_scale = std::fabs(scales[ib]);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < 1e-15f) {  // all zeros: an all-zero block decodes to zeros
    std::memset(&y, 0, sizeof(y));
    y.d = fp32_to_fp16(0.f);
    return;
  }
  const float iscale = -128.f / max_scale;
  y.d = fp32_to_fp16(1 / iscale);
  for (int ib = 0; ib < kQK_K / 16; ++ib)
    y.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = fp16_to_fp32(y.d) * y.scales[j];
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
    }
  }
  // Levels 0..63 as bytes: the bit layout is the grid packer's (format_grid.cpp), one copy.
  pack_grid_q6_k(&y, reinterpret_cast<const uint8_t*>(L));
}

void q6_k_reference(const float* x, BlockQ6_K* y, int64_t n) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    for (int ib = 0; ib < kQK_K / 16; ++ib)
      scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, nullptr);
    q6_k_finish(x, scales, L, y[i]);
  }
}

void q6_k_search(const float* x, BlockQ6_K* y, int64_t n, const float* qw) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    // ggml weights the Q6_K search by the raw importance (no sigma2 term).
    for (int ib = 0; ib < kQK_K / 16; ++ib)
      scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw + kQK_K * i + 16 * ib);
    q6_k_finish(x, scales, L, y[i]);
  }
}

}  // namespace

void quantize_row_q4_k(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ4_K, kQK_K>(src, static_cast<BlockQ4_K*>(dst), n, importance,
                                             q4_k_reference, q4_k_search, dequantize_row_q4_k);
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ5_K, kQK_K>(src, static_cast<BlockQ5_K*>(dst), n, importance,
                                             q5_k_reference, q5_k_search, dequantize_row_q5_k);
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ6_K, kQK_K>(src, static_cast<BlockQ6_K*>(dst), n, importance,
                                             q6_k_reference, q6_k_search, dequantize_row_q6_k);
}

void quantize_row_q8_k(const float* src, void* dst, int64_t n, const float* /*importance*/) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  const float* x = src;
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (!amax) {
      std::memset(&y[i], 0, sizeof(y[i]));
      continue;
    }
    // -127 rather than -128 keeps every quant in [-127, 127] (ggml needs that for IQ2 dots).
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j)
      y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[16 * j + ii];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int is = 0; is < kNumSub; is += 2, q += 32) {
      uint8_t sc, m;
      get_scale_min_k4(is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int is = 0; is < kNumSub; is += 2, ql += 32) {
      uint8_t sc, m;
      get_scale_min_k4(is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      const int u1 = 1 << is, u2 = 2 << is;  // qh bits of this pair of sub-blocks
      for (int l = 0; l < 32; ++l) *dst++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < 2; ++half, dst += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * sc[is] * q1;
        dst[l + 32] = d * sc[is + 2] * q2;
        dst[l + 64] = d * sc[is + 4] * q3;
        dst[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) *dst++ = x[i].d * x[i].qs[j];
}

}  // namespace edgefit::quant
