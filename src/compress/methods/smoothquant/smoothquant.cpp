#include "compress/methods/smoothquant/smoothquant.h"

#include <algorithm>
#include <cmath>

namespace edgefit {

std::vector<float> smoothquant_scales(const float* act_max, std::span<const WeightRef> weights,
                                      int64_t cols, double alpha) {
  std::vector<float> w_max(static_cast<size_t>(cols), 0.f);
  for (const auto& wr : weights)
    for (int64_t r = 0; r < wr.rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        w_max[static_cast<size_t>(j)] =
            std::max(w_max[static_cast<size_t>(j)], std::fabs(wr.w[r * cols + j]));
  std::vector<float> s(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) {
    const double a = std::max(static_cast<double>(act_max[j]), 1e-5);
    const double w = std::max(static_cast<double>(w_max[static_cast<size_t>(j)]), 1e-5);
    s[static_cast<size_t>(j)] =
        static_cast<float>(std::max(1e-5, std::pow(a, alpha) / std::pow(w, 1.0 - alpha)));
  }
  return s;
}

void quantize_int8_per_channel(const float* w, int64_t rows, int64_t cols, int8_t* q,
                               float* scales) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    float amax = 0;
    for (int64_t j = 0; j < cols; ++j) amax = std::max(amax, std::fabs(row[j]));
    const float d = amax / 127.f;
    scales[r] = d;
    const float id = d > 0 ? 1.f / d : 0.f;
    for (int64_t j = 0; j < cols; ++j) {
      const long v = std::lround(row[j] * id);
      q[r * cols + j] = static_cast<int8_t>(std::clamp<long>(v, -127, 127));
    }
  }
}

}  // namespace edgefit
