// 8-bit AdamW moments (train/moments8.h): the code tables against their definition, the
// quantize/dequantize round trip within the code's spacing, one and several 8-bit AdamW steps
// against the f32 ones, and the checkpoint keeping the quantized state bit for bit.
#include "train/moments8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "test_data.h"
#include "train/adamw.h"
#include "train/checkpoint.h"

namespace edgefit::train {
namespace {

TEST(Moments8, CodeTablesFollowTheirDefinition) {
  for (const auto code : {signed_moment_code(), unsigned_moment_code()}) {
    ASSERT_EQ(code.size(), 255u);
    for (size_t i = 1; i < code.size(); ++i) EXPECT_LT(code[i - 1], code[i]) << i;
    EXPECT_EQ(code.back(), 1.0f);
  }
  const auto s = signed_moment_code(), u = unsigned_moment_code();
  EXPECT_EQ(s.front(), -1.0f);
  EXPECT_EQ(s[127], 0.0f);
  EXPECT_EQ(u.front(), 0.0f);
  EXPECT_FLOAT_EQ(s[128], 1e-6f);  // the smallest magnitude: 10^-6 · (0.1 + 0.9)
  EXPECT_FLOAT_EQ(u[1], 1e-6f * (0.1f + 0.9f / 2));
  // Top decade: 64 steps of 0.9/64 signed, 128 of 0.9/128 unsigned, ending at 1.
  EXPECT_FLOAT_EQ(s[253], 1.0f - 0.9f / 64);
  EXPECT_FLOAT_EQ(u[253], 1.0f - 0.9f / 128);
  EXPECT_FLOAT_EQ(s[254 - 64], 0.1f);  // decade boundary: 10^-1 is a code
}

// The largest distance from |y| (relative to the absmax) to its nearest code: half the code
// spacing of y's decade, 0.9·10^-z / 2^(top−z) (top = 6 signed, 7 unsigned); below 1e-6 half
// the step to zero.
double max_error(double y, int top) {
  y = std::fabs(y);
  if (y <= 1e-6) return 0.5e-6;
  const int z = std::min(6, static_cast<int>(std::floor(-std::log10(y))));
  return 0.5 * 0.9 * std::pow(10.0, -z) / std::pow(2.0, top - z) * (1 + 1e-5) + 1e-12;
}

TEST(Moments8, RoundTripIsWithinHalfTheCodeSpacing) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Three blocks and a partial one, values spread over ten decades, one outlier per block.
  const int64_t n = 3 * kMomentBlock + 100;
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = normal(rng) * std::pow(10.0f, -static_cast<float>(rng() % 10));
  for (int64_t b = 0; b < n; b += kMomentBlock) x[static_cast<size_t>(b + 3)] = -50.0f;
  for (const bool is_signed : {true, false}) {
    const MomentCode code = is_signed ? MomentCode::kSigned : MomentCode::kUnsigned;
    std::vector<float> in = x;
    if (!is_signed)
      for (auto& v : in) v = std::fabs(v);
    Moment8 m = Moment8::zeros(n, code);
    std::vector<float> out(in.size());
    for (int64_t b = 0; b < n; b += kMomentBlock) {
      const size_t len = static_cast<size_t>(std::min(kMomentBlock, n - b));
      quantize_moment_block({in.data() + b, len}, code, b, m);
      dequantize_moment_block(m, code, b, {out.data() + b, len});
      EXPECT_EQ(m.absmax[static_cast<size_t>(b / kMomentBlock)], 50.0f);
    }
    for (int64_t i = 0; i < n; ++i) {
      const double y = in[i] / 50.0;
      EXPECT_LE(std::fabs(out[i] - in[i]), max_error(y, is_signed ? 6 : 7) * 50.0)
          << i << " " << in[i];
      if (std::fabs(in[i]) == 50.0f) {
        EXPECT_EQ(out[i], in[i]);  // the absmax survives exactly
      }
    }
  }
  // An all-zero block stays zero (no division by its zero absmax).
  Moment8 z = Moment8::zeros(10, MomentCode::kSigned);
  std::vector<float> zeros(10, 0.0f), back(10, 1.0f);
  quantize_moment_block(zeros, MomentCode::kSigned, 0, z);
  dequantize_moment_block(z, MomentCode::kSigned, 0, back);
  EXPECT_EQ(back, zeros);
}

// The nearest code by brute force: the smallest |y − code[i]|, the first (smallest index) on a
// tie.
uint8_t nearest_by_scan(std::span<const float> code, float y) {
  size_t best = 0;
  for (size_t i = 1; i < code.size(); ++i)
    if (std::fabs(y - code[i]) < std::fabs(y - code[best])) best = i;
  return static_cast<uint8_t>(best);
}

TEST(Moments8, QuantizationPicksTheNearestCode) {
  // Random values over eight decades, every code, every midpoint between neighbours (ties) and
  // its float neighbours, ±0 and ±1: the stored code is the nearest one, ties to the smaller
  // index, as a scan of all 255 codes finds it. The block's absmax is 1, so y = the value.
  for (const MomentCode which : {MomentCode::kSigned, MomentCode::kUnsigned}) {
    const auto code = which == MomentCode::kSigned ? signed_moment_code() : unsigned_moment_code();
    std::vector<float> ys = {0.0f, -0.0f, 1.0f};
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    for (int i = 0; i < 4000; ++i)
      ys.push_back(unit(rng) * std::pow(10.0f, -static_cast<float>(i % 8)));
    for (size_t i = 0; i + 1 < code.size(); ++i) {
      const float mid = 0.5f * (code[i] + code[i + 1]);
      ys.insert(ys.end(), {code[i], mid, std::nextafter(mid, -2.0f), std::nextafter(mid, 2.0f)});
    }
    if (which == MomentCode::kSigned) {
      const size_t n = ys.size();
      for (size_t i = 0; i < n; ++i) ys.push_back(-ys[i]);
      ys.push_back(-1.0f);
    }
    for (float& y : ys) y = std::clamp(y, which == MomentCode::kSigned ? -1.0f : 0.0f, 1.0f);
    // One block per value, so that each has the absmax 1 (a block of [y, 1]).
    for (const float y : ys) {
      Moment8 m = Moment8::zeros(2, which);
      const float pair[2] = {y, 1.0f};
      quantize_moment_block(pair, which, 0, m);
      ASSERT_EQ(m.codes[0], nearest_by_scan(code, y)) << y;
    }
  }
  // A negative value in the unsigned code (sqrt(v) never is) goes to 0, its nearest code.
  Moment8 m = Moment8::zeros(2, MomentCode::kUnsigned);
  const float pair[2] = {-0.25f, 1.0f};
  quantize_moment_block(pair, MomentCode::kUnsigned, 0, m);
  EXPECT_EQ(m.codes[0], 0);
}

// `steps` AdamW steps on one parameter of n values with gradients g_t,i = sin(...)·scale_i
// (channel scales over four decades, as LoRA's input channels have), returning the values.
std::vector<float> run_adamw(int bits, int steps, int64_t n, AdamW* keep = nullptr) {
  ParameterSet ps;
  Parameter& p = ps.add("w", {n});
  for (int64_t i = 0; i < n; ++i) p.value[i] = 0.01f * static_cast<float>(std::cos(0.37 * i));
  AdamWConfig cfg{0.9, 0.999, 1e-8, 0.0, bits};
  AdamW local(cfg);
  AdamW& opt = keep ? *keep : local;
  for (int t = 1; t <= steps; ++t) {
    for (int64_t i = 0; i < n; ++i)
      p.grad[i] =
          static_cast<float>((0.3 + std::sin(0.91 * t + 1.7 * i)) * std::pow(10.0, -(i % 3)));
    opt.step(ps, 1e-3);
  }
  return p.value;
}

TEST(Moments8, FirstStepEqualsTheF32Step) {
  // Step 1 updates with the exact f32 moments; only what is stored afterwards is rounded.
  EXPECT_EQ(run_adamw(8, 1, 600), run_adamw(32, 1, 600));
}

TEST(Moments8, StepsStayCloseToTheF32Steps) {
  // Each step moves a value by about lr·m̂/sqrt(v̂) ≤ ~lr; the moments' rounding changes that by
  // the code's relative error: under 1 % near a block's absmax, up to ~10 % two decades below
  // it (the channels here span three decades within each block). Over 50 steps at lr 1e-3 (at
  // most 0.05 of movement per value; 0.019 on average here) we allow 5 % of that maximum per
  // value (2.5e-3; measured 1.2e-3) and 2.5 % of the average movement on average (5e-4;
  // measured 2.2e-4, 1.2 %).
  const int64_t n = 1000;
  const std::vector<float> q = run_adamw(8, 50, n), f = run_adamw(32, 50, n),
                           start = run_adamw(32, 0, n);
  double sum = 0, moved = 0, worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    worst = std::max(worst, static_cast<double>(std::fabs(q[i] - f[i])));
    sum += std::fabs(q[i] - f[i]);
    moved += std::fabs(f[i] - start[i]);
  }
  EXPECT_LT(worst, 2.5e-3);
  EXPECT_LT(sum / n, 5e-4);
  EXPECT_GT(moved / n, 1e-2);  // the f32 run really moved (the bounds are not vacuous)
}

TEST(Moments8, CheckpointKeepsTheQuantizedStateExactly) {
  const std::string path = test::scratch_dir("moments8") + "/ckpt.safetensors";
  ParameterSet ps;
  ps.add("a", {4, 300});  // 1200 values: 4 full blocks and a partial one
  ps.add("b", {7});
  AdamW opt({0.9, 0.999, 1e-8, 0.0, 8});
  for (int t = 1; t <= 3; ++t) {
    for (Parameter& p : ps.all())
      for (size_t i = 0; i < p.grad.size(); ++i)
        p.grad[i] = static_cast<float>(std::sin(3.1 * t + 0.7 * static_cast<double>(i)));
    opt.step(ps, 1e-2);
  }
  save_checkpoint(path, ps, opt, 3);
  ParameterSet back;
  back.add("a", {4, 300});
  back.add("b", {7});
  AdamW opt2({0.9, 0.999, 1e-8, 0.0, 8});
  EXPECT_EQ(load_checkpoint(path, back, opt2), 3);
  EXPECT_EQ(opt2.steps(), 3);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(back.all()[k].value, ps.all()[k].value);
    EXPECT_EQ(opt2.first_moments8()[k].codes, opt.first_moments8()[k].codes);
    EXPECT_EQ(opt2.first_moments8()[k].absmax, opt.first_moments8()[k].absmax);
    EXPECT_EQ(opt2.second_moments8()[k].codes, opt.second_moments8()[k].codes);
    EXPECT_EQ(opt2.second_moments8()[k].absmax, opt.second_moments8()[k].absmax);
  }
  EXPECT_EQ(opt2.first_moments8()[0].absmax.size(), 5u);
  // An f32 optimizer refuses the 8-bit state (and the other way round) and stays untouched.
  AdamW f32;
  EXPECT_THROW(load_checkpoint(path, back, f32), Error);
  EXPECT_EQ(f32.steps(), 0);
  save_checkpoint(path, ps, f32, 0);
  AdamW opt3({0.9, 0.999, 1e-8, 0.0, 8});
  EXPECT_THROW(load_checkpoint(path, back, opt3), Error);
  EXPECT_THROW(AdamW({0.9, 0.999, 1e-8, 0.0, 16}), Error);
}

}  // namespace
}  // namespace edgefit::train
