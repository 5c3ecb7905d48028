// IQ4_NL: 32-weight blocks of 4-bit indices into the fixed non-uniform table kIQ4NLValues, with
// one fp16 scale. ggml quantizes it (with or without importance) by a search over 15 candidate
// scales (quantize_row_iq4_nl_impl with ntry = 7), weighting errors by x² or, with importance, by
// qw[i]*sqrt(sigma2 + x[i]²) with sigma2 = 2·mean(x²) of the block.
#include <cmath>
#include <cstdint>

#include "core/fp16.h"
#include "quant/block_formats.h"
#include "quant/kernels.h"
#include "quant/quant_search.h"

namespace edgefit::quant {

namespace {

constexpr int kNumTry = 7;  // candidate inverse scales (values[0] + t)/max for t in [-7, 7]

void iq4_nl_block(const float* x, const float* qw, BlockIQ4_NL& y) {
  const int8_t* values = kIQ4NLValues;
  float weight[kQK];
  uint8_t L[kQK];

  float sigma2 = 0;
  for (int j = 0; j < kQK; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / kQK;
  if (qw) {
    for (int j = 0; j < kQK; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
  } else {
    for (int j = 0; j < kQK; ++j) weight[j] = x[j] * x[j];
  }

  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }

  float d = 0;
  if (amax >= 1e-15f) {
    // Start with the extreme value on the table's most negative entry, then least-squares fit.
    float id = 1 / (-max / values[0]);
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kQK; ++j) {
      const float q = values[best_index_int8(16, values, id * x[j])];
      sumqx += weight[j] * q * x[j];
      sumq2 += weight[j] * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -kNumTry; itry <= kNumTry; ++itry) {
      id = (itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < kQK; ++j) {
        const float q = values[best_index_int8(16, values, id * x[j])];
        sumqx += weight[j] * q * x[j];
        sumq2 += weight[j] * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
  }

  // The indices are chosen with the unrounded scale (ggml does not re-fit to the fp16 one).
  y.d = fp32_to_fp16(d);
  const float id = d ? 1 / d : 0;
  for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>(best_index_int8(16, values, id * x[j]));
  for (int j = 0; j < kQK / 2; ++j) y.qs[j] = static_cast<uint8_t>(L[j] | (L[j + kQK / 2] << 4));
}

void iq4_nl_rows(const float* x, BlockIQ4_NL* y, int64_t n, const float* qw) {
  for (int64_t ib = 0; ib < n / kQK; ++ib)
    iq4_nl_block(x + kQK * ib, qw ? qw + kQK * ib : nullptr, y[ib]);
}

void iq4_nl_reference(const float* x, BlockIQ4_NL* y, int64_t n) {
  iq4_nl_rows(x, y, n, nullptr);
}

}  // namespace

void quantize_row_iq4_nl(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_with_importance<BlockIQ4_NL, kQK>(src, static_cast<BlockIQ4_NL*>(dst), n, importance,
                                             iq4_nl_reference, iq4_nl_rows, dequantize_row_iq4_nl);
}

void dequantize_row_iq4_nl(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_NL*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * kIQ4NLValues[x[i].qs[j] & 0xF];
      dst[j + kQK / 2] = d * kIQ4NLValues[x[i].qs[j] >> 4];
    }
  }
}

}  // namespace edgefit::quant
