// RoPE: the two weight layouts are the same function, and the frequency scalings behave as
// transformers / llama.cpp define them.
#include "model/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "core/error.h"

namespace edgefit {
namespace {

ArchConfig config(int head_dim, bool interleaved) {
  ArchConfig c;
  c.head_dim = head_dim;
  c.rope_theta = 10000.f;
  c.rope_interleaved = interleaved;
  return c;
}

// Rotating rotate-half-layout q equals rotating its interleaved permutation (llama.cpp's
// converter maps HF row j to 2j for j < d/2 and row j + d/2 to 2j + 1).
TEST(Rope, LayoutsAgreeUnderPermutation) {
  const int d = 16, heads = 3;
  Rope half(config(d, false)), inter(config(d, true));
  std::vector<float> x(heads * d), y(heads * d);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * i + 0.1f);
  for (int h = 0; h < heads; ++h)
    for (int j = 0; j < d / 2; ++j) {
      y[h * d + 2 * j] = x[h * d + j];
      y[h * d + 2 * j + 1] = x[h * d + j + d / 2];
    }
  half.apply(x.data(), heads, 37);
  inter.apply(y.data(), heads, 37);
  for (int h = 0; h < heads; ++h)
    for (int j = 0; j < d / 2; ++j) {
      EXPECT_NEAR(y[h * d + 2 * j], x[h * d + j], 1e-6);
      EXPECT_NEAR(y[h * d + 2 * j + 1], x[h * d + j + d / 2], 1e-6);
    }
}

// angles() is the textbook cos/sin of pos · θ_j, θ_j = base^(-2j/d) held as a float (as ggml's
// theta), and apply() is angles() then rotate().
TEST(Rope, AnglesAreTheTextbookOnesAndApplyIsAnglesThenRotate) {
  const int d = 64, heads = 2;
  const int64_t pos = 1234;
  Rope r(config(d, true));
  std::vector<float> c(d / 2), s(d / 2);
  r.angles(pos, c.data(), s.data());
  for (int j = 0; j < d / 2; ++j) {
    const double a = pos * static_cast<double>(static_cast<float>(std::pow(10000.0, -2.0 * j / d)));
    EXPECT_NEAR(c[j], std::cos(a), 1e-6) << j;
    EXPECT_NEAR(s[j], std::sin(a), 1e-6) << j;
  }
  std::vector<float> x(heads * d), y;
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.3f * i);
  y = x;
  r.apply(x.data(), heads, pos);
  r.rotate(y.data(), heads, c.data(), s.data());
  EXPECT_EQ(x, y);
  // Pair (0, 1) of head 1 is rotated by angle 0's cos/sin.
  const float a = std::cos(0.3f * d), b = std::cos(0.3f * (d + 1));
  EXPECT_FLOAT_EQ(x[d], a * c[0] - b * s[0]);
  EXPECT_FLOAT_EQ(x[d + 1], a * s[0] + b * c[0]);
}

TEST(Rope, PositionZeroIsIdentity) {
  Rope r(config(8, true));
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8}, y = x;
  r.apply(y.data(), 1, 0);
  EXPECT_EQ(x, y);
}

TEST(Rope, Llama3ScalingKeepsHighAndDividesLowFrequencies) {
  ArchConfig c = config(128, false);
  c.rope_theta = 500000.f;
  c.rope_scaling.type = "llama3";
  c.rope_scaling.factor = 8.f;
  c.rope_scaling.low_freq_factor = 1.f;
  c.rope_scaling.high_freq_factor = 4.f;
  c.rope_scaling.original_max_position = 8192;
  Rope scaled(c);
  ArchConfig base = config(128, false);
  base.rope_theta = 500000.f;
  Rope unscaled(base);
  const auto& s = scaled.inv_freq();
  const auto& u = unscaled.inv_freq();
  EXPECT_FLOAT_EQ(s[0], u[0]);             // wavelength 2π < 8192/4: kept
  EXPECT_FLOAT_EQ(s[63], u[63] / 8.f);     // longest wavelength > 8192: divided by factor
  for (size_t j = 0; j < s.size(); ++j) {  // in between: blended, never outside the two
    EXPECT_LE(s[j], u[j] * 1.000001f);
    EXPECT_GE(s[j], u[j] / 8.f * 0.999999f);
    const double wavelen = 2 * std::numbers::pi / u[j];
    if (wavelen > 8192 / 4.0 && wavelen < 8192 / 1.0) {
      const double smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0);
      EXPECT_NEAR(s[j], (1 - smooth) * u[j] / 8 + smooth * u[j], 1e-6 * u[j]);
    }
  }
}

TEST(Rope, FrequencyFactorsDivide) {
  ArchConfig c = config(8, true);
  std::vector<float> f = {1.f, 2.f, 4.f, 8.f};
  Rope r(c, f), plain(c);
  for (size_t j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(r.inv_freq()[j], plain.inv_freq()[j] / f[j]);
  EXPECT_THROW(Rope(c, std::vector<float>{1.f}), Error);
}

}  // namespace
}  // namespace edgefit
