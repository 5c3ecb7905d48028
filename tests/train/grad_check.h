// Finite-difference checking of analytic gradients, shared by the train tests.
//
// The scalar under test is L = Σ_i w_i · out_i for fixed random weights w (so every output
// element matters with a different weight); its gradient with respect to each input element is
// estimated by central differences of the f32 forward, evaluated in double.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace edgefit::test {

inline std::vector<float> random_vector(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Σ w_i · out_i in double.
inline double weighted_sum(const std::vector<float>& w, const float* out) {
  double s = 0;
  for (size_t i = 0; i < w.size(); ++i) s += static_cast<double>(w[i]) * out[i];
  return s;
}

// ‖a − b‖ / ‖b‖.
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

// Central differences of `loss` with respect to every element of `x` (restored afterwards).
inline std::vector<double> numeric_grad(std::vector<float>& x, const std::function<double()>& loss,
                                        float h) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    // The step actually taken in f32, not the nominal h.
    g[i] = (lp - lm) / (static_cast<double>(x0 + h) - static_cast<double>(x0 - h));
  }
  return g;
}

// Expects the analytic gradient to match central differences within `tol` relative (norm).
inline void expect_grad(const std::string& what, std::vector<float>& x,
                        const std::vector<float>& analytic, const std::function<double()>& loss,
                        double tol = 2e-3, float h = 1e-2f) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  const std::vector<double> num = numeric_grad(x, loss, h);
  const std::vector<double> an(analytic.begin(), analytic.end());
  double norm = 0;
  for (double v : num) norm += v * v;
  ASSERT_GT(norm, 1e-12) << what << ": the check would be vacuous (zero gradient)";
  EXPECT_LT(rel_error(an, num), tol) << what;
}

}  // namespace edgefit::test
