// The 2- and 3-bit k-quants, Q2_K and Q3_K: 256-weight super-blocks of 16 sub-blocks of 16.
//
// Without importance they follow ggml's quantize_row_q2_K_ref / quantize_row_q3_K_ref: a scale
// search per sub-block (make_qkx2_quants for Q2_K's scale+min, make_q3_quants for Q3_K's signed
// scale), then the sub-block scales are themselves quantized against one fp16 super-scale, and the
// weights are re-quantized with the scales as they will be decoded. With importance they follow
// ggml's quantize_row_q*_K_impl.
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

constexpr int kSub = 16;               // weights per sub-block
constexpr int kNumSub = kQK_K / kSub;  // sub-blocks per super-block

// 2-bit levels L[0..256) into qs: byte l of 32-byte group g holds weights 128g + l + 32k at bits
// 2k.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                           (L[j + l + 96] << 6));
    }
  }
}

// ---------------------------------------------------------------- Q2_K

// Re-quantizes every sub-block whose decoded scale is non-zero with the decoded scale and min;
// sub-blocks with a zero scale keep the levels of the search (as in ggml).
void q2_k_requantize(const float* x, const BlockQ2_K& y, uint8_t* L) {
  for (int j = 0; j < kNumSub; ++j) {
    const float d = fp16_to_fp32(y.d) * (y.scales[j] & 0xF);
    if (!d) continue;
    const float dm = fp16_to_fp32(y.dmin) * (y.scales[j] >> 4);
    for (int ii = 0; ii < kSub; ++ii) {
      const int l = nearest_int((x[kSub * j + ii] + dm) / d);
      L[kSub * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
    }
  }
}

void q2_k_reference(const float* x, BlockQ2_K* y, int64_t n) {
  uint8_t L[kQK_K], Laux[kSub];
  float weights[kSub], mins[kNumSub], scales[kNumSub];
  const float q4scale = 15.f;  // sub-block scales and mins are 4-bit
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, max_min = 0;  // scales are positive: the min is subtracted
    for (int j = 0; j < kNumSub; ++j) {
      for (int l = 0; l < kSub; ++l) weights[l] = std::fabs(x[kSub * j + l]);
      scales[j] = make_qkx2_quants(kSub, 3, x + kSub * j, weights, L + kSub * j, &mins[j], Laux,
                                   -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < kNumSub; ++j)
        y[i].scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      y[i].d = fp32_to_fp16(max_scale / q4scale);
    } else {
      std::memset(y[i].scales, 0, sizeof(y[i].scales));
      y[i].d = fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < kNumSub; ++j)
        y[i].scales[j] =
            static_cast<uint8_t>(y[i].scales[j] | (nearest_int(iscale * mins[j]) << 4));
      y[i].dmin = fp32_to_fp16(max_min / q4scale);
    } else {
      y[i].dmin = fp32_to_fp16(0.f);
    }
    q2_k_requantize(x, y[i], L);
    pack_2bit(L, y[i].qs);
  }
}

void q2_k_search(const float* x, BlockQ2_K* y, int64_t n, const float* qw) {
  uint8_t L[kQK_K], Laux[kSub], Ls[kNumSub], Lm[kNumSub];
  float mins[kNumSub], scales[kNumSub], sw[kNumSub], weight[kSub];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float sumx2 = 0;
    for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = sumx2 / kQK_K;
    for (int j = 0; j < kNumSub; ++j) {
      const float* w = qw + kQK_K * i + kSub * j;
      for (int l = 0; l < kSub; ++l)
        weight[l] = w[l] * std::sqrt(sigma2 + x[kSub * j + l] * x[kSub * j + l]);
      sw[j] = 0;
      for (int l = 0; l < kSub; ++l) sw[j] += weight[l];
      scales[j] = make_qkx3_quants(kSub, 3, x + kSub * j, weight, L + kSub * j, &mins[j], Laux,
                                   -0.9f, 0.05f, 36, false);
    }
    // The sub-block scales and mins are quantized with the same weights summed per sub-block.
    const float dm = make_qp_quants(kNumSub, 15, scales, Ls, sw);
    const float mm = make_qp_quants(kNumSub, 15, mins, Lm, sw);
    y[i].d = fp32_to_fp16(dm);
    y[i].dmin = fp32_to_fp16(mm);
    for (int j = 0; j < kNumSub; ++j) y[i].scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    q2_k_requantize(x, y[i], L);
    pack_2bit(L, y[i].qs);
  }
}

// ---------------------------------------------------------------- Q3_K

// Stores six-bit scale `l` (0..63) of sub-block j into Q3_K's 12 scale bytes (zeroed beforehand).
void q3_k_set_scale(uint8_t* scales, int j, int l) {
  if (j < 8) {
    scales[j] = static_cast<uint8_t>(l & 0xF);
  } else {
    scales[j - 8] = static_cast<uint8_t>(scales[j - 8] | ((l & 0xF) << 4));
  }
  l >>= 4;
  scales[j % 4 + 8] = static_cast<uint8_t>(scales[j % 4 + 8] | (l << (2 * (j / 4))));
}

// The signed scale (-32..31) of sub-block j.
int q3_k_get_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// Re-quantizes with the decoded scales, then splits L (0..7) into hmask and the 2-bit qs.
void q3_k_finish(const float* x, BlockQ3_K& y, int8_t* L) {
  for (int j = 0; j < kNumSub; ++j) {
    const float d = fp16_to_fp32(y.d) * q3_k_get_scale(y.scales, j);
    if (!d) continue;
    for (int ii = 0; ii < kSub; ++ii) {
      const int l = nearest_int(x[kSub * j + ii] / d);
      L[kSub * j + ii] = static_cast<int8_t>(std::max(-4, std::min(3, l)) + 4);
    }
  }
  std::memset(y.hmask, 0, sizeof(y.hmask));
  uint8_t L2[kQK_K];
  for (int j = 0; j < kQK_K; ++j) {
    int l = L[j];
    if (l > 3) {
      y.hmask[j % 32] = static_cast<uint8_t>(y.hmask[j % 32] | (1 << (j / 32)));
      l -= 4;
    }
    L2[j] = static_cast<uint8_t>(l);
  }
  pack_2bit(L2, y.qs);
}

void q3_k_reference(const float* x, BlockQ3_K* y, int64_t n) {
  int8_t L[kQK_K];
  float scales[kNumSub];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, amax = 0;  // the signed scale of largest magnitude
    for (int j = 0; j < kNumSub; ++j) {
      scales[j] = make_q3_quants(kSub, 4, x + kSub * j, L + kSub * j, true);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < kNumSub; ++j) {
        int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));  // ggml stores into int8_t
        l = std::max(-32, std::min(31, l)) + 32;
        q3_k_set_scale(y[i].scales, j, l);
      }
      y[i].d = fp32_to_fp16(1 / iscale);
    } else {
      y[i].d = fp32_to_fp16(0.f);
    }
    q3_k_finish(x, y[i], L);
  }
}

void q3_k_search(const float* x, BlockQ3_K* y, int64_t n, const float* qw) {
  int8_t L[kQK_K], Ls[kNumSub];
  float scales[kNumSub], weight[kSub], sw[kNumSub];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float sumx2 = 0;
    for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = 2 * sumx2 / kQK_K;
    for (int j = 0; j < kNumSub; ++j) {
      const float* w = qw + kQK_K * i + kSub * j;
      for (int l = 0; l < kSub; ++l)
        weight[l] = w[l] * std::sqrt(sigma2 + x[kSub * j + l] * x[kSub * j + l]);
      float sumw = 0;
      for (int l = 0; l < kSub; ++l) sumw += weight[l];
      sw[j] = sumw;
      scales[j] = make_qx_quants(kSub, 4, x + kSub * j, L + kSub * j, 1, weight);
    }
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    const float d_block = make_qx_quants(kNumSub, 32, scales, Ls, 1, sw);
    for (int j = 0; j < kNumSub; ++j) q3_k_set_scale(y[i].scales, j, Ls[j]);
    y[i].d = fp32_to_fp16(d_block);
    q3_k_finish(x, y[i], L);
  }
}

}  // namespace

void quantize_row_q2_k(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ2_K, kQK_K>(src, static_cast<BlockQ2_K*>(dst), n, importance,
                                             q2_k_reference, q2_k_search, dequantize_row_q2_k);
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ3_K, kQK_K>(src, static_cast<BlockQ3_K*>(dst), n, importance,
                                             q3_k_reference, q3_k_search, dequantize_row_q3_k);
}

// Element e of a super-block: half h = e/128, within it group k = (e%128)/32 and lane l = e%32.
// Its 2 low bits sit in qs[32h + l] at bit 2k and its sub-block is e/16.

void dequantize_row_q2_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    for (int e = 0; e < kQK_K; e += kSub) {  // one sub-block at a time
      const uint8_t sc = x[i].scales[e / kSub];
      const float dl = d * (sc & 0xF);
      const float ml = min * (sc >> 4);
      const int shift = 2 * ((e % 128) / 32);
      const uint8_t* q = x[i].qs + 32 * (e / 128) + e % 32;
      for (int l = 0; l < kSub; ++l) *dst++ = dl * ((q[l] >> shift) & 3) - ml;
    }
  }
}

void dequantize_row_q3_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d_all = fp16_to_fp32(x[i].d);
    for (int e = 0; e < kQK_K; e += kSub) {
      const float dl = d_all * q3_k_get_scale(x[i].scales, e / kSub);
      const int shift = 2 * ((e % 128) / 32);
      const uint8_t hbit = static_cast<uint8_t>(1 << (e / 32));
      const uint8_t* q = x[i].qs + 32 * (e / 128) + e % 32;
      const uint8_t* hm = x[i].hmask + e % 32;
      for (int l = 0; l < kSub; ++l) {
        *dst++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & hbit) ? 0 : 4));
      }
    }
  }
}

}  // namespace edgefit::quant
