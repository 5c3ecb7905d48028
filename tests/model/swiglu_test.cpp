// SwiGLU: the vectorised gate equals its scalar definition (std::exp) within float rounding, on
// every length (full vectors and tails) and at the extremes of its input.
#include "model/swiglu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace edgefit {
namespace {

void expect_matches_reference(const std::vector<float>& gate, const std::vector<float>& up) {
  std::vector<float> fast = gate, ref = gate;
  swiglu(fast.data(), up.data(), static_cast<int64_t>(fast.size()));
  swiglu_reference(ref.data(), up.data(), static_cast<int64_t>(ref.size()));
  for (size_t i = 0; i < ref.size(); ++i) {
    // Below g ≈ -87 the reference's SiLU is a denormal and the vector one 0: hence the floor.
    EXPECT_NEAR(fast[i], ref[i], 2e-6 * std::fabs(ref[i]) + 1e-35)
        << "g = " << gate[i] << ", u = " << up[i] << " at " << i << " of " << ref.size();
  }
}

TEST(SwiGlu, MatchesScalarDefinitionOnEveryLength) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 3.f);
  for (int n : {1, 5, 15, 16, 17, 31, 33, 64, 100, 5632}) {
    std::vector<float> g(static_cast<size_t>(n)), u(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      g[static_cast<size_t>(i)] = nd(rng);
      u[static_cast<size_t>(i)] = nd(rng);
    }
    expect_matches_reference(g, u);
  }
}

TEST(SwiGlu, ExtremeGatesStayFiniteAndAccurate) {
  const float big = std::numeric_limits<float>::max();
  std::vector<float> g = {0.f,  -0.f,  1e-30f, -1e-30f, 1.f,   -1.f,   20.f, -20.f,
                          87.f, -87.f, 88.f,   -88.f,   100.f, -100.f, 1e4f, -1e4f,
                          big,  -big,  0.5f,   -0.5f,   3.25f, -3.25f, 50.f, -50.f};
  std::vector<float> u(g.size(), 0.5f);  // so that SiLU(max float) · u stays finite
  expect_matches_reference(g, u);
  std::vector<float> out = g;
  swiglu(out.data(), u.data(), static_cast<int64_t>(out.size()));
  for (float v : out) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(out[0], 0.f);                 // SiLU(0) = 0
  EXPECT_FLOAT_EQ(out[14], 1e4f * 0.5f);  // large g: SiLU(g) = g
  EXPECT_EQ(out[15], 0.f);                // large negative g: 0 (as -0)
}

}  // namespace
}  // namespace edgefit
