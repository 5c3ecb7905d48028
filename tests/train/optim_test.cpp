// AdamW, the learning-rate schedule, gradient clipping and the data order, against values
// worked out by hand from the published definitions (or recomputed here independently).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <set>
#include <vector>

#include "train/adamw.h"
#include "train/data_order.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/parameters.h"

namespace edgefit::train {
namespace {

TEST(AdamW, FirstStepByHand) {
  // Step 1: m̂ = g and v̂ = g², so the Adam term is lr·g/(|g| + ε) ≈ lr·sign(g); the decay
  // multiplies p by 1 − lr·λ first. p = 1, g = 0.5, lr = 0.1, λ = 0.01:
  //   1 · (1 − 0.001) − 0.1 · 0.5 / (0.5 + 1e-8) = 0.999 − 0.0999999980 = 0.8990000020
  // and for p = −2, g = −0.25: −2 · 0.999 + 0.1 · 0.25/(0.25 + 1e-8) = −1.8980000000 + …
  ParameterSet ps;
  Parameter& p = ps.add("w", {2});
  p.value = {1.0f, -2.0f};
  p.grad = {0.5f, -0.25f};
  AdamW opt({0.9, 0.999, 1e-8, 0.01});
  opt.step(ps, 0.1);
  EXPECT_NEAR(p.value[0], 0.8990000020, 1e-7);
  EXPECT_NEAR(p.value[1], -1.898 + 0.1 - 0.1 * 0.25 / (0.25 + 1e-8), 1e-7);
  EXPECT_EQ(opt.steps(), 1);
}

TEST(AdamW, DecayIsDecoupledFromTheGradient) {
  // A zero gradient leaves m = v = 0: only the decay acts, p ← p · (1 − lr·λ).
  ParameterSet ps;
  Parameter& p = ps.add("w", {3});
  p.value = {1.0f, -4.0f, 0.5f};
  AdamW opt({0.9, 0.999, 1e-8, 0.1});
  for (int s = 0; s < 3; ++s) opt.step(ps, 0.5);
  const double f = std::pow(1.0 - 0.5 * 0.1, 3);
  EXPECT_NEAR(p.value[0], 1.0 * f, 1e-6);
  EXPECT_NEAR(p.value[1], -4.0 * f, 1e-6);
  EXPECT_NEAR(p.value[2], 0.5 * f, 1e-6);
}

TEST(AdamW, SeveralStepsMatchTheUpdateRule) {
  // Five steps with changing gradients and learning rates, against the rule written out here in
  // double (Loshchilov & Hutter, Algorithm 2, as torch.optim.AdamW).
  const double b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.05;
  ParameterSet ps;
  Parameter& p = ps.add("w", {4});
  p.value = {0.3f, -0.7f, 1.5f, 0.0f};
  std::vector<double> want(p.value.begin(), p.value.end()), m(4, 0), v(4, 0);
  AdamW opt({b1, b2, eps, wd});
  for (int t = 1; t <= 5; ++t) {
    const double lr = 0.01 * t;
    for (int i = 0; i < 4; ++i) p.grad[i] = static_cast<float>(std::sin(1.3 * t + i) * (i + 1));
    opt.step(ps, lr);
    for (int i = 0; i < 4; ++i) {
      const double g = p.grad[i];
      want[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double mh = m[i] / (1 - std::pow(b1, t)), vh = v[i] / (1 - std::pow(b2, t));
      want[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(p.value[i], want[i], 1e-5) << i;
}

TEST(LrSchedule, WarmupThenCosine) {
  const LrSchedule s{1e-3, 0.0, 10, 110};
  EXPECT_DOUBLE_EQ(learning_rate(s, 0), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 5), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(s, 10), 1e-3);    // peak: cos(0)
  EXPECT_NEAR(learning_rate(s, 60), 5e-4, 1e-15);  // halfway: cos(π/2)
  EXPECT_NEAR(learning_rate(s, 35), 1e-3 * 0.5 * (1 + std::cos(std::numbers::pi / 4)), 1e-15);
  EXPECT_NEAR(learning_rate(s, 110), 0.0, 1e-15);  // end: cos(π)
  EXPECT_NEAR(learning_rate(s, 500), 0.0, 1e-15);  // stays at the floor
  const LrSchedule floor{1e-3, 1e-4, 0, 100};
  EXPECT_DOUBLE_EQ(learning_rate(floor, 0), 1e-3);  // no warm-up
  EXPECT_NEAR(learning_rate(floor, 50), 1e-4 + 0.9e-3 * 0.5, 1e-15);
  EXPECT_NEAR(learning_rate(floor, 100), 1e-4, 1e-15);
}

TEST(GradClip, ScalesOnlyAboveTheBound) {
  ParameterSet ps;
  ps.add("a", {1}).grad = {3.0f};
  ps.add("b", {1}).grad = {4.0f};  // global norm 5 across parameters
  EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 10.0), 5.0);
  EXPECT_EQ(ps.get("a").grad[0], 3.0f);  // under the bound: untouched
  EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 1.0), 5.0);
  EXPECT_NEAR(ps.get("a").grad[0], 0.6, 1e-6);
  EXPECT_NEAR(ps.get("b").grad[0], 0.8, 1e-6);
}

TEST(DataOrder, SplitMix64MatchesTheReferenceOutput) {
  // The first outputs of Vigna's splitmix64.c seeded with 1234567.
  SplitMix64 r(1234567);
  EXPECT_EQ(r.next(), 6457827717110365317ull);
  EXPECT_EQ(r.next(), 3203168211198807973ull);
  EXPECT_EQ(r.next(), 9817491932198370423ull);
  EXPECT_EQ(r.next(), 4593380528125082431ull);
  EXPECT_EQ(r.next(), 16408922859458223821ull);
}

TEST(DataOrder, PermutationsAreReproducibleAndVaryBySeedAndEpoch) {
  const DataOrder a(50, 7), b(50, 7), c(50, 8);
  const std::vector<int64_t> e0 = a.epoch(0);
  EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 50u);  // a permutation
  EXPECT_EQ(*std::min_element(e0.begin(), e0.end()), 0);
  EXPECT_EQ(*std::max_element(e0.begin(), e0.end()), 49);
  EXPECT_EQ(e0, b.epoch(0));
  EXPECT_NE(e0, a.epoch(1));
  EXPECT_NE(e0, c.epoch(0));
  EXPECT_EQ(a.at(53), a.epoch(1)[3]);
}

TEST(DataOrder, ShuffleIsUniform) {
  // Over 24000 seeds every one of the 24 orders of 4 items appears ~1000 times (χ², 23 d.o.f.;
  // 60 is far beyond its 0.1 % tail of 49.7, while a biased shuffle lands in the hundreds).
  std::vector<int> count(256, 0);
  for (uint64_t seed = 0; seed < 24000; ++seed) {
    const std::vector<int64_t> o = DataOrder(4, seed).epoch(0);
    ++count[o[0] * 64 + o[1] * 16 + o[2] * 4 + o[3]];
  }
  double chi2 = 0;
  int orders = 0;
  for (int c : count)
    if (c) {
      ++orders;
      chi2 += (c - 1000.0) * (c - 1000.0) / 1000.0;
    }
  EXPECT_EQ(orders, 24);
  EXPECT_LT(chi2, 60);
}

}  // namespace
}  // namespace edgefit::train
