#include "methods/finite_weights.h"

#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/fp16.h"

namespace edgefit {
namespace {

// The first 16-bit value whose exponent bits are all ones (Inf or NaN) under `exp_mask`.
int64_t first_all_ones_exponent(const uint8_t* data, int64_t n, uint16_t exp_mask) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, data + 2 * i, 2);
    if ((h & exp_mask) == exp_mask) return i;
  }
  return -1;
}

}  // namespace

int64_t first_non_finite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

int64_t first_non_finite(const TensorView& v) {
  if (!v.is_contiguous()) return -1;
  const int64_t n = v.numel();
  switch (v.dtype) {
    case DType::F32: {
      for (int64_t i = 0; i < n; ++i) {
        float f;
        std::memcpy(&f, v.data + 4 * i, 4);  // mapped data need not be 4-byte aligned
        if (!std::isfinite(f)) return i;
      }
      return -1;
    }
    case DType::F16:
      return first_all_ones_exponent(v.data, n, 0x7C00);
    case DType::BF16:
      return first_all_ones_exponent(v.data, n, 0x7F80);
    default:
      return -1;
  }
}

void throw_non_finite(const ModelTensor& t, int64_t index, float value) {
  throw Error("tensor '" + t.name + "' holds a non-finite value (" +
                  std::string(std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf")) +
                  ") at flat index " + std::to_string(index) +
                  "; quantizing it would write a broken model (llama-quantize refuses it too)",
              t.source);
}

void check_finite_weights(const ModelTensor& t) {
  const TensorView& v = t.view;
  const int64_t i = first_non_finite(v);
  if (i < 0) return;
  float value = 0;
  if (v.dtype == DType::F32) {
    std::memcpy(&value, v.data + 4 * i, 4);
  } else {
    uint16_t h;
    std::memcpy(&h, v.data + 2 * i, 2);
    value = v.dtype == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
  }
  throw_non_finite(t, i, value);
}

}  // namespace edgefit
