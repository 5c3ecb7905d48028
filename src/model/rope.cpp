#include "model/rope.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace edgefit {

Rope::Rope(const ArchConfig& cfg, std::vector<float> freq_factors)
    : head_dim_(cfg.head_dim), interleaved_(cfg.rope_interleaved) {
  const int half = head_dim_ / 2;
  if (!freq_factors.empty() && static_cast<int>(freq_factors.size()) != half)
    throw Error("rope_freqs.weight has " + std::to_string(freq_factors.size()) +
                " factors, expected head_dim/2 = " + std::to_string(half));
  const RopeScaling& rs = cfg.rope_scaling;
  inv_freq_.resize(static_cast<size_t>(half));
  for (int j = 0; j < half; ++j) {
    // Computed in double and rounded once: closer to the float64 reference than ggml's running
    // product, and well within the 1e-4 logit tolerance either way.
    double f = std::pow(static_cast<double>(cfg.rope_theta), -2.0 * j / head_dim_);
    if (!freq_factors.empty()) {
      f /= freq_factors[static_cast<size_t>(j)];
    } else if (rs.type == "llama3") {
      // transformers' _compute_llama3_parameters: keep high frequencies, divide low ones by
      // `factor`, and blend smoothly in between.
      const double low_wavelen = rs.original_max_position / rs.low_freq_factor;
      const double high_wavelen = rs.original_max_position / rs.high_freq_factor;
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= rs.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (rs.original_max_position / wavelen - rs.low_freq_factor) /
                              (rs.high_freq_factor - rs.low_freq_factor);
        f = (1.0 - smooth) * f / rs.factor + smooth * f;
      }
    }
    inv_freq_[static_cast<size_t>(j)] = static_cast<float>(f);
  }
  if (rs.type == "linear" && rs.factor > 0) pos_scale_ = 1.0f / rs.factor;
}

void Rope::angles(int64_t pos, float* cos, float* sin) const {
  const double p = static_cast<double>(pos) * pos_scale_;
  for (size_t j = 0; j < inv_freq_.size(); ++j) {
    const double a = p * inv_freq_[j];
    cos[j] = static_cast<float>(std::cos(a));
    sin[j] = static_cast<float>(std::sin(a));
  }
}

void Rope::rotate(float* x, int n_heads, const float* c, const float* s) const {
  const int half = head_dim_ / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim_;
    for (int j = 0; j < half; ++j) {
      const int i0 = interleaved_ ? 2 * j : j;
      const int i1 = interleaved_ ? 2 * j + 1 : j + half;
      const float a = v[i0], b = v[i1];
      v[i0] = a * c[j] - b * s[j];
      v[i1] = a * s[j] + b * c[j];
    }
  }
}

void Rope::apply(float* x, int n_heads, int64_t pos) const {
  // The one-position convenience form (the forward pass shares angles across layers through
  // Transformer::rope_table instead, so this is not on a hot path).
  const size_t half = inv_freq_.size();
  std::vector<float> cs(2 * half);
  angles(pos, cs.data(), cs.data() + half);
  rotate(x, n_heads, cs.data(), cs.data() + half);
}

}  // namespace edgefit
