// The vector math tables (train/vector_math.h) against float64 definitions, on every table the
// CPU can run: values within a few f32 ulps, the softmax sum in double, and each element's bits
// independent of where a call splits the array (the thread pool's chunks, a row's length).
#include "train/vector_math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/cpu_features.h"

namespace edgefit::train {
namespace {

std::vector<const VectorMathTable*> tables() {
  std::vector<const VectorMathTable*> t{&vector_math_generic()};
  if (cpu_features().avx2 && cpu_features().fma) t.push_back(&vector_math_avx2());
  if (cpu_features().avx512f && cpu_features().avx512bw && cpu_features().avx512vl)
    t.push_back(&vector_math_avx512());
  return t;
}

// n values in [-span, span] with a few far out (the exp's clamped range).
std::vector<float> values(int64_t n, float span, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-span, span);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  v[0] = -200.0f;
  v[n / 2] = 120.0f;
  return v;
}

double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

constexpr double kTol = 4e-7;  // relative, a few f32 ulps

TEST(VectorMath, SoftmaxRowsAgainstDouble) {
  std::mt19937 rng(3);
  const int64_t n = 37;  // two whole blocks and a padded tail
  for (const VectorMathTable* t : tables()) {
    SCOPED_TRACE(t->isa);
    const auto x = values(n, 20.0f, rng);
    std::vector<float> e(x.size());
    const float shift = *std::max_element(x.begin(), x.end());  // as the softmax shifts
    EXPECT_EQ(t->max(x.data(), n), shift);
    EXPECT_EQ(t->max(x.data() + 1, 3), std::max({x[1], x[2], x[3]}));  // padded lanes lose
    const double sum = t->exp_shifted_sum(x.data(), n, shift, e.data());
    double want_sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double want = std::exp(static_cast<double>(x[j] - shift));
      want_sum += static_cast<float>(want);
      if (want > 1e-30) {  // (exp(−200 − 120) is far below f32's range)
        EXPECT_NEAR(e[j], want, kTol * want) << j;
      }
    }
    EXPECT_NEAR(sum, want_sum, 1e-6 * want_sum);
    std::vector<float> p = x, ds(static_cast<size_t>(n), 0.5f);
    t->softmax_backward_row(p.data(), ds.data(), n, shift, 0.25f);
    for (int64_t j = 0; j < n; ++j) {
      EXPECT_EQ(p[j], e[j]) << j;  // the same exp as the forward
      EXPECT_EQ(ds[j], e[j] * (0.5f - 0.25f)) << j;
    }
  }
}

TEST(VectorMath, SwigluAgainstDoubleAndSplitFree) {
  std::mt19937 rng(5);
  const int64_t n = 53;
  for (const VectorMathTable* t : tables()) {
    SCOPED_TRACE(t->isa);
    const auto g = values(n, 12.0f, rng), u = values(n, 2.0f, rng), dh = values(n, 1.0f, rng);
    std::vector<float> h(n), dg(n), du(n);
    t->swiglu_forward(g.data(), u.data(), n, h.data());
    t->swiglu_backward(g.data(), u.data(), dh.data(), n, dg.data(), du.data());
    for (int64_t i = 0; i < n; ++i) {
      const double s = sigmoid(g[i]), silu = g[i] * s;
      EXPECT_NEAR(h[i], silu * u[i], 1e-6 * std::fabs(silu * u[i]) + 1e-30) << i;
      EXPECT_NEAR(du[i], dh[i] * silu, 1e-6 * std::fabs(dh[i] * silu) + 1e-30) << i;
      const double want = dh[i] * u[i] * s * (1 + g[i] * (1 - s));
      EXPECT_NEAR(dg[i], want, 1e-5 * std::fabs(want) + 1e-30) << i;
    }
    // The same bits when the array is cut at an odd place, and with dh aliasing an output.
    std::vector<float> h2(n), dg2 = dh, du2(n);
    t->swiglu_forward(g.data(), u.data(), 5, h2.data());
    t->swiglu_forward(g.data() + 5, u.data() + 5, n - 5, h2.data() + 5);
    t->swiglu_backward(g.data(), u.data(), dg2.data(), 21, dg2.data(), du2.data());
    t->swiglu_backward(g.data() + 21, u.data() + 21, dg2.data() + 21, n - 21, dg2.data() + 21,
                       du2.data() + 21);
    EXPECT_EQ(h, h2);
    EXPECT_EQ(dg, dg2);
    EXPECT_EQ(du, du2);
  }
}

}  // namespace
}  // namespace edgefit::train
