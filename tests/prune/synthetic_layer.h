// Synthetic linear layers for the pruning tests: inputs with correlated channels and a few outlier
// channels (like a transformer's), random weights, and the reference error ‖(W − Ŵ)·Xᵀ‖² computed
// straight from X, independently of every function under test.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace edgefit::test {

// X [n, cols]: `factors` shared latent factors mixed into every channel (0: independent channels)
// plus noise; every `outlier_every`-th channel (0: none) scaled by `outlier_scale`.
inline std::vector<float> make_inputs(int64_t n, int64_t cols, uint32_t seed, int factors,
                                      int64_t outlier_every, float outlier_scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> mix(static_cast<size_t>(factors * cols));
  for (auto& v : mix) v = nd(rng);
  std::vector<float> scale(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j)
    scale[static_cast<size_t>(j)] = (outlier_every > 0 && j % outlier_every == 0)
                                        ? outlier_scale
                                        : 0.5f + 0.5f * std::fabs(nd(rng));
  std::vector<float> x(static_cast<size_t>(n * cols)), z(static_cast<size_t>(factors));
  for (int64_t t = 0; t < n; ++t) {
    for (auto& v : z) v = nd(rng);
    for (int64_t j = 0; j < cols; ++j) {
      float s = factors > 0 ? 0.3f * nd(rng) : nd(rng);
      for (int f = 0; f < factors; ++f)
        s += z[static_cast<size_t>(f)] * mix[static_cast<size_t>(f * cols + j)] * 0.25f;
      x[static_cast<size_t>(t * cols + j)] = s * scale[static_cast<size_t>(j)];
    }
  }
  return x;
}

inline std::vector<float> random_weights(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.05f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = nd(rng);
  return w;
}

// H = 2·XᵀX / n in double, then float: the Hessian GPTQ and SparseGPT take.
inline std::vector<float> hessian_of(const std::vector<float>& x, int64_t n, int64_t cols) {
  std::vector<double> h(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i) {
      const double xi = x[static_cast<size_t>(t * cols + i)];
      for (int64_t j = 0; j < cols; ++j)
        h[static_cast<size_t>(i * cols + j)] += xi * x[static_cast<size_t>(t * cols + j)];
    }
  std::vector<float> out(h.size());
  for (size_t i = 0; i < h.size(); ++i) out[i] = static_cast<float>(2 * h[i] / n);
  return out;
}

// Σ x_j² per channel, what the calibration statistics (and, divided by n, an imatrix) hold.
inline std::vector<double> sum_sq_of(const std::vector<float>& x, int64_t n, int64_t cols) {
  std::vector<double> s(static_cast<size_t>(cols), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j) {
      const double v = x[static_cast<size_t>(t * cols + j)];
      s[static_cast<size_t>(j)] += v * v;
    }
  return s;
}

// ‖(W − Ŵ)·Xᵀ‖²_F: how far the layer's outputs on the calibration tokens move.
inline double output_error(const std::vector<float>& w, const std::vector<float>& w_hat,
                           int64_t rows, int64_t cols, const std::vector<float>& x, int64_t n) {
  double e = 0;
  std::vector<double> d(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j)
      d[static_cast<size_t>(j)] =
          double(w[static_cast<size_t>(r * cols + j)]) - w_hat[static_cast<size_t>(r * cols + j)];
    for (int64_t t = 0; t < n; ++t) {
      double y = 0;
      for (int64_t j = 0; j < cols; ++j)
        y += d[static_cast<size_t>(j)] * x[static_cast<size_t>(t * cols + j)];
      e += y * y;
    }
  }
  return e;
}

}  // namespace edgefit::test
