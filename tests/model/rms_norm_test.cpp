// RMSNorm: the vectorised norm equals the definition computed in long double to float rounding,
// on every length (full vectors and tails), and in place equals out of place.
#include "model/rms_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace edgefit {
namespace {

TEST(RmsNorm, MatchesDefinitionOnEveryLength) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 2.f);
  const float eps = 1e-5f;
  for (int n : {1, 7, 8, 15, 16, 17, 63, 64, 100, 2048, 2049}) {
    std::vector<float> x(static_cast<size_t>(n)), g(x.size()), y(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = nd(rng);
      g[i] = 1.f + 0.1f * nd(rng);
    }
    rms_norm(x.data(), g.data(), y.data(), n, eps);
    long double ss = 0;
    for (float v : x) ss += static_cast<long double>(v) * v;
    const long double s = 1.0L / std::sqrt(ss / n + eps);
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = static_cast<double>(x[i] * s * g[i]);
      EXPECT_NEAR(y[i], want, 4e-7 * std::fabs(want) + 1e-30) << "n=" << n << " i=" << i;
    }
    std::vector<float> z = x;
    rms_norm(z.data(), g.data(), z.data(), n, eps);
    EXPECT_EQ(z, y) << "in place, n=" << n;
  }
}

TEST(RmsNorm, ZeroInputGivesZeroNotNaN) {
  std::vector<float> x(40, 0.f), g(40, 1.f), y(40, 1.f);
  rms_norm(x.data(), g.data(), y.data(), 40, 1e-6f);
  for (float v : y) EXPECT_EQ(v, 0.f);
}

}  // namespace
}  // namespace edgefit
