// AdamW, the learning-rate schedule, gradient clipping and the data order, against values
// worked out by hand from the published definitions (or recomputed here independently).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <set>
#include <vector>

#include "core/thread_pool.h"
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

// The serial AdamW step as it was before the thread pool (one parameter after another, 8-bit
// moments one block after another), kept here as the reference the pooled step must equal bit for
// bit: same float expressions in the same order.
struct SerialAdamW {
  double b1d = 0.9, b2d = 0.999, eps = 1e-8, wd = 0.01;  // hyperparameters
  bool eight_bit = false;                                // 8-bit block-wise moments
  int64_t t = 0;                                         // steps taken
  std::vector<std::vector<float>> m, v;                  // f32 moments per parameter
  std::vector<Moment8> m8, v8;                           // 8-bit moments (v8: sqrt(v))

  void step(std::vector<Parameter>& ps, double lr) {
    if (m.empty() && m8.empty())
      for (const Parameter& p : ps) {
        const int64_t n = static_cast<int64_t>(p.value.size());
        m.emplace_back(p.value.size(), 0.0f);
        v.emplace_back(p.value.size(), 0.0f);
        m8.push_back(Moment8::zeros(n, MomentCode::kSigned));
        v8.push_back(Moment8::zeros(n, MomentCode::kUnsigned));
      }
    ++t;
    const double bc1 = 1.0 - std::pow(b1d, static_cast<double>(t)),
                 bc2 = 1.0 - std::pow(b2d, static_cast<double>(t));
    const float decay = static_cast<float>(1.0 - lr * wd), b1 = static_cast<float>(b1d),
                b2 = static_cast<float>(b2d), c1 = static_cast<float>(1.0 - b1d),
                c2 = static_cast<float>(1.0 - b2d);
    for (size_t k = 0; k < ps.size(); ++k) {
      Parameter& p = ps[k];
      if (!eight_bit) {
        for (size_t i = 0; i < p.value.size(); ++i) {
          const float g = p.grad[i];
          m[k][i] = b1 * m[k][i] + c1 * g;
          v[k][i] = b2 * v[k][i] + c2 * g * g;
          const double denom = std::sqrt(v[k][i] / bc2) + eps;
          p.value[i] = static_cast<float>(p.value[i] * decay - lr * (m[k][i] / bc1) / denom);
        }
        continue;
      }
      const int64_t n = static_cast<int64_t>(p.value.size());
      float mb[kMomentBlock], vb[kMomentBlock];
      for (int64_t b = 0; b < n; b += kMomentBlock) {
        const size_t len = static_cast<size_t>(std::min(kMomentBlock, n - b));
        dequantize_moment_block(m8[k], MomentCode::kSigned, b, {mb, len});
        dequantize_moment_block(v8[k], MomentCode::kUnsigned, b, {vb, len});
        for (size_t i = 0; i < len; ++i) {
          const size_t j = static_cast<size_t>(b) + i;
          const float g = p.grad[j];
          mb[i] = b1 * mb[i] + c1 * g;
          vb[i] = b2 * (vb[i] * vb[i]) + c2 * g * g;
          const double denom = std::sqrt(vb[i] / bc2) + eps;
          p.value[j] = static_cast<float>(p.value[j] * decay - lr * (mb[i] / bc1) / denom);
          vb[i] = std::sqrt(vb[i]);
        }
        quantize_moment_block({mb, len}, MomentCode::kSigned, b, m8[k]);
        quantize_moment_block({vb, len}, MomentCode::kUnsigned, b, v8[k]);
      }
    }
  }
};

// The bytes of floats, so that −0 ≠ +0 and the comparison is exact.
std::vector<uint32_t> bits(const std::vector<float>& x) {
  std::vector<uint32_t> out;
  for (float e : x) out.push_back(std::bit_cast<uint32_t>(e));
  return out;
}

// The pooled step equals the serial one bit for bit, on 1, 2 and 3 threads, f32 and 8-bit, over
// three steps (so the moments are not zero): parameters of odd sizes (not multiples of 256) and
// one larger than a pool task (8 blocks), so tasks start and end inside parameters.
TEST(AdamW, PooledStepEqualsTheSerialOneOnAnyThreadCount) {
  const std::vector<int64_t> sizes = {3, 300, 2500, 1000, 1};  // 1 + 2 + 10 + 4 + 1 blocks
  for (const int state_bits : {32, 8}) {
    ParameterSet init;
    for (size_t k = 0; k < sizes.size(); ++k) {
      Parameter& p = init.add("p" + std::to_string(k), {sizes[k]});
      for (size_t i = 0; i < p.value.size(); ++i)
        p.value[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + k));
    }
    // Gradients of step t: a spread of magnitudes (an outlier every 97 values) and signs.
    auto set_grads = [](std::vector<Parameter>& ps, int t) {
      for (size_t k = 0; k < ps.size(); ++k)
        for (size_t i = 0; i < ps[k].grad.size(); ++i)
          ps[k].grad[i] = static_cast<float>(std::cos(1.1 * static_cast<double>(i) + t + k) *
                                             (i % 97 == 0 ? 30.0 : 0.01 * (1 + i % 7)));
    };
    std::vector<Parameter> want = init.all();
    SerialAdamW serial;  // the defaults, as AdamWConfig below
    serial.eight_bit = state_bits == 8;
    for (int t = 1; t <= 3; ++t) {
      set_grads(want, t);
      serial.step(want, 0.01 * t);
    }
    for (const int threads : {1, 2, 3}) {
      ThreadPool::set_global_threads(threads);
      ParameterSet ps = init;
      AdamW opt({0.9, 0.999, 1e-8, 0.01, state_bits});
      for (int t = 1; t <= 3; ++t) {
        set_grads(ps.all(), t);
        opt.step(ps, 0.01 * t);
      }
      for (size_t k = 0; k < sizes.size(); ++k) {
        SCOPED_TRACE(::testing::Message()
                     << state_bits << " bits, " << threads << " threads, p" << k);
        EXPECT_EQ(bits(ps.all()[k].value), bits(want[k].value));
        if (state_bits == 32) {
          EXPECT_EQ(bits(opt.first_moments()[k]), bits(serial.m[k]));
          EXPECT_EQ(bits(opt.second_moments()[k]), bits(serial.v[k]));
        } else {
          EXPECT_EQ(opt.first_moments8()[k].codes, serial.m8[k].codes);
          EXPECT_EQ(bits(opt.first_moments8()[k].absmax), bits(serial.m8[k].absmax));
          EXPECT_EQ(opt.second_moments8()[k].codes, serial.v8[k].codes);
          EXPECT_EQ(bits(opt.second_moments8()[k].absmax), bits(serial.v8[k].absmax));
        }
      }
    }
    ThreadPool::set_global_threads(0);
  }
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
