// The 32-weight "legacy" formats: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1.
//
// Without importance these are closed-form (absmax or min/max scaling) and must match ggml's
// quantize_row_*_ref byte for byte, including its float-to-int casts (trunc_to_int) and its use of
// the unrounded fp32 scale when computing the levels. With importance they run ggml's imatrix
// search (weights qw[i]*sqrt(sigma2 + x[i]²), sigma2 = mean x² of the row).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/fp16.h"
#include "quant/block_formats.h"
#include "quant/kernels.h"
#include "quant/quant_search.h"

namespace edgefit::quant {

namespace {

// The signed value of largest magnitude in x[0..n) (the first one on ties), 0 for all zeros.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float* min_out, float* max_out) {
  float min = 3.402823466e+38f, max = -3.402823466e+38f;  // ±FLT_MAX as in ggml
  for (int j = 0; j < n; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  *min_out = min;
  *max_out = max;
}

// Split 32 five-bit levels (given in weight order as low nibble + bit 4) into qs nibbles and qh.
void pack_q5(const uint8_t* levels, uint8_t* qs, uint8_t* qh) {
  uint32_t high = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const uint8_t a = levels[j], b = levels[j + kQK / 2];
    qs[j] = static_cast<uint8_t>((a & 0x0F) | ((b & 0x0F) << 4));
    high |= static_cast<uint32_t>((a & 0x10u) >> 4) << j;
    high |= static_cast<uint32_t>((b & 0x10u) >> 4) << (j + kQK / 2);
  }
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(high >> (8 * k));
}

uint32_t load_qh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 |
         static_cast<uint32_t>(qh[2]) << 16 | static_cast<uint32_t>(qh[3]) << 24;
}

float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / n;
}

// ---------------------------------------------------------------- reference quantizers

void q8_0_reference(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j)
      y[i].qs[j] = static_cast<int8_t>(trunc_to_int(std::round(x[j] * id)));
  }
}

void q4_0_reference(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x, kQK) / -8;  // the extreme value maps to level 0 (= -8)
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 =
          std::min(15, static_cast<int>(static_cast<int8_t>(trunc_to_int(x[j] * id + 8.5f))));
      const int q1 = std::min(
          15, static_cast<int>(static_cast<int8_t>(trunc_to_int(x[j + kQK / 2] * id + 8.5f))));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void q4_1_reference(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float min, max;
    min_max(x, kQK, &min, &max);
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    for (int j = 0; j < kQK / 2; ++j) {
      const float v0 = (x[j] - min) * id;
      const float v1 = (x[j + kQK / 2] - min) * id;
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_to_int(v0 + 0.5f))));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_to_int(v1 + 0.5f))));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void q5_0_reference(const float* x, BlockQ5_0* y, int64_t n) {
  uint8_t levels[kQK];
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x, kQK) / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) {
      const int q = static_cast<int8_t>(trunc_to_int(x[j] * id + 16.5f));
      levels[j] = static_cast<uint8_t>(std::min(31, q));
    }
    pack_q5(levels, y[i].qs, y[i].qh);
  }
}

void q5_1_reference(const float* x, BlockQ5_1* y, int64_t n) {
  uint8_t levels[kQK];
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float min, max;
    min_max(x, kQK, &min, &max);
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    // No clamp here (ggml has none either): the top level rounds to exactly 31.
    for (int j = 0; j < kQK; ++j)
      levels[j] = static_cast<uint8_t>(trunc_to_int((x[j] - min) * id + 0.5f));
    pack_q5(levels, y[i].qs, y[i].qh);
  }
}

// ---------------------------------------------------------------- importance searches

void q4_0_search(const float* x, BlockQ4_0* y, int64_t n, const float* qw) {
  const float sigma2 = row_sigma2(x, n);
  float weight[kQK];
  int8_t L[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    const float* w = qw + kQK * ib;
    for (int j = 0; j < kQK; ++j) weight[j] = w[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    y[ib].d = fp32_to_fp16(make_qx_quants(kQK, 8, xb, L, 1, weight));
    for (int j = 0; j < kQK / 2; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void q4_1_search(const float* x, BlockQ4_1* y, int64_t n, const float* qw) {
  const float sigma2 = row_sigma2(x, n);
  float weight[kQK];
  uint8_t L[kQK], Laux[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    const float* w = qw + kQK * ib;
    for (int j = 0; j < kQK; ++j) weight[j] = w[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    float min;
    const float d = make_qkx3_quants(kQK, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp32_to_fp16(d);
    y[ib].m = fp32_to_fp16(-min);
    for (int j = 0; j < kQK / 2; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void q5_0_search(const float* x, BlockQ5_0* y, int64_t n, const float* qw) {
  const float sigma2 = row_sigma2(x, n);
  float weight[kQK];
  int8_t L[kQK];
  uint8_t levels[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    const float* w = qw + kQK * ib;
    for (int j = 0; j < kQK; ++j) weight[j] = w[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    y[ib].d = fp32_to_fp16(make_qx_quants(kQK, 16, xb, L, 1, weight));
    for (int j = 0; j < kQK; ++j) levels[j] = static_cast<uint8_t>(L[j]);
    pack_q5(levels, y[ib].qs, y[ib].qh);
  }
}

void q5_1_search(const float* x, BlockQ5_1* y, int64_t n, const float* qw) {
  const float sigma2 = row_sigma2(x, n);
  float weight[kQK];
  uint8_t L[kQK], Laux[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    const float* w = qw + kQK * ib;
    for (int j = 0; j < kQK; ++j) weight[j] = w[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    float min;
    const float d = make_qkx3_quants(kQK, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp32_to_fp16(d);
    y[ib].m = fp32_to_fp16(-min);
    pack_q5(L, y[ib].qs, y[ib].qh);
  }
}

}  // namespace

// ---------------------------------------------------------------- public row functions

void quantize_row_q8_0(const float* src, void* dst, int64_t n, const float* /*importance*/) {
  // ggml has no importance path for Q8_0: its error is already tiny.
  q8_0_reference(src, static_cast<BlockQ8_0*>(dst), n);
}

void quantize_row_q4_0(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ4_0, kQK>(src, static_cast<BlockQ4_0*>(dst), n, importance,
                                           q4_0_reference, q4_0_search, dequantize_row_q4_0);
}

void quantize_row_q4_1(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ4_1, kQK>(src, static_cast<BlockQ4_1*>(dst), n, importance,
                                           q4_1_reference, q4_1_search, dequantize_row_q4_1);
}

void quantize_row_q5_0(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ5_0, kQK>(src, static_cast<BlockQ5_0*>(dst), n, importance,
                                           q5_0_reference, q5_0_search, dequantize_row_q5_0);
}

void quantize_row_q5_1(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockQ5_1, kQK>(src, static_cast<BlockQ5_1*>(dst), n, importance,
                                           q5_1_reference, q5_1_search, dequantize_row_q5_1);
}

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = x[i].qs[j] * d;
  }
}

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
      dst[j + kQK / 2] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = (x[i].qs[j] & 0x0F) * d + m;
      dst[j + kQK / 2] = (x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      dst[j] = (((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      dst[j + kQK / 2] = (((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      dst[j] = ((x[i].qs[j] & 0x0F) | h0) * d + m;
      dst[j + kQK / 2] = ((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

}  // namespace edgefit::quant
