// AWQ and SmoothQuant on synthetic blocks: their scale folding leaves the float output unchanged
// (before quantization), AWQ's search never does worse than plain rounding on its own loss, and
// the W8A8 kernel equals the scalar reference exactly on every ISA.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "compress/methods/awq/awq.h"
#include "compress/methods/smoothquant/smoothquant.h"
#include "kernels/w8a8_gemm.h"

namespace edgefit {
namespace {

std::vector<float> randn(size_t n, float sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Activations with a few outlier channels, as real LLM activations have.
std::vector<float> activations(int64_t n, int64_t d, uint32_t seed) {
  auto x = randn(size_t(n * d), 1.f, seed);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < d; j += 29) x[size_t(t * d + j)] *= 20.f;
  return x;
}

// y = RMSNorm(x)·g · Wᵀ in double.
std::vector<double> norm_linear(const std::vector<float>& x, const std::vector<float>& g,
                                const std::vector<float>& w, int64_t n, int64_t d, int64_t rows) {
  std::vector<double> y(static_cast<size_t>(n * rows));
  for (int64_t t = 0; t < n; ++t) {
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += double(x[size_t(t * d + j)]) * x[size_t(t * d + j)];
    const double inv = 1 / std::sqrt(ss / d + 1e-5);
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t j = 0; j < d; ++j)
        s += x[size_t(t * d + j)] * inv * g[size_t(j)] * w[size_t(r * d + j)];
      y[size_t(t * rows + r)] = s;
    }
  }
  return y;
}

// down(SiLU(x·gateᵀ) · (x·upᵀ)) in double.
std::vector<double> swiglu(const std::vector<float>& x, const std::vector<float>& gate,
                           const std::vector<float>& up, const std::vector<float>& down, int64_t n,
                           int64_t d, int64_t f) {
  std::vector<double> y(static_cast<size_t>(n * d), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t k = 0; k < f; ++k) {
      double a = 0, b = 0;
      for (int64_t j = 0; j < d; ++j) {
        a += double(x[size_t(t * d + j)]) * gate[size_t(k * d + j)];
        b += double(x[size_t(t * d + j)]) * up[size_t(k * d + j)];
      }
      const double h = a / (1 + std::exp(-a)) * b;
      for (int64_t o = 0; o < d; ++o) y[size_t(t * d + o)] += h * down[size_t(o * f + k)];
    }
  return y;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double mx = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    mx = std::max(mx, std::fabs(a[i] - b[i]));
    ref = std::max(ref, std::fabs(a[i]));
  }
  return mx / ref;
}

TEST(Awq, FoldingLeavesTheFloatBlockUnchanged) {
  const int64_t n = 16, d = 64, rows = 48, f = 96;
  const auto x = activations(n, d, 1);
  const auto g = randn(size_t(d), 0.3f, 2);
  auto w = randn(size_t(rows * d), 0.1f, 3);
  std::vector<float> mean_abs(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t t = 0; t < n; ++t) mean_abs[size_t(j)] += std::fabs(x[size_t(t * d + j)]) / n;
  }
  const auto before = norm_linear(x, g, w, n, d, rows);
  const auto s = awq_scales(mean_abs.data(), d, 0.6);
  auto g2 = g;
  scale_columns(w.data(), rows, d, s.data());
  fold_into_gain(g2.data(), d, s.data());
  EXPECT_LT(max_rel_diff(before, norm_linear(x, g2, w, n, d, rows)), 1e-5);

  // down's scales folded into up's rows.
  auto gate = randn(size_t(f * d), 0.1f, 4), up = randn(size_t(f * d), 0.1f, 5),
       down = randn(size_t(d * f), 0.1f, 6);
  const auto y0 = swiglu(x, gate, up, down, n, d, f);
  const auto sd = randn(size_t(f), 0.5f, 7);
  std::vector<float> s_down(static_cast<size_t>(f));
  for (int64_t k = 0; k < f; ++k) s_down[size_t(k)] = 0.2f + std::fabs(sd[size_t(k)]);
  scale_columns(down.data(), d, f, s_down.data());
  fold_into_rows(up.data(), f, d, s_down.data());
  EXPECT_LT(max_rel_diff(y0, swiglu(x, gate, up, down, n, d, f)), 1e-5);
}

TEST(Awq, SearchIsNeverWorseThanPlainRounding) {
  const int64_t n = 256, d = 256, rows = 64;
  const auto x = activations(n, d, 8);
  const auto w = randn(size_t(rows * d), 0.05f, 9);
  std::vector<float> mean_abs(static_cast<size_t>(d)), mean_sq(static_cast<size_t>(d));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < d; ++j) {
      mean_abs[size_t(j)] += std::fabs(x[size_t(t * d + j)]) / n;
      mean_sq[size_t(j)] += x[size_t(t * d + j)] * x[size_t(t * d + j)] / n;
    }
  for (DType t : {DType::Q4_0, DType::Q4_K, DType::Q3_K}) {
    const AwqLinear l{w.data(), rows, t};
    const AwqSearch r = awq_search({&l, 1}, d, x.data(), n, mean_abs.data(), mean_sq.data());
    std::printf("%s: plain %.4g, AWQ α=%.2f %.4g\n", std::string(dtype_name(t)).c_str(),
                r.loss_plain, r.alpha, r.loss);
    EXPECT_LE(r.loss, r.loss_plain);
    EXPECT_EQ(r.scales.size(), size_t(d));
  }
}

TEST(SmoothQuant, SmoothingLeavesTheFloatOutputUnchangedAndHelpsInt8) {
  const int64_t n = 32, d = 128, rows = 64;
  const auto x = activations(n, d, 10);
  const auto g = randn(size_t(d), 0.3f, 11);
  const auto w = randn(size_t(rows * d), 0.1f, 12);
  // Per-channel max |RMSNorm(x)·g|: the input the weights see.
  std::vector<float> xn(static_cast<size_t>(n * d)), act_max(static_cast<size_t>(d), 0.f);
  for (int64_t t = 0; t < n; ++t) {
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += double(x[size_t(t * d + j)]) * x[size_t(t * d + j)];
    const double inv = 1 / std::sqrt(ss / d + 1e-5);
    for (int64_t j = 0; j < d; ++j) {
      xn[size_t(t * d + j)] = float(x[size_t(t * d + j)] * inv * g[size_t(j)]);
      act_max[size_t(j)] = std::max(act_max[size_t(j)], std::fabs(xn[size_t(t * d + j)]));
    }
  }
  const WeightRef ref{w.data(), rows};
  const auto s = smoothquant_scales(act_max.data(), {&ref, 1}, d, 0.5);
  auto w2 = w;
  auto g2 = g;
  scale_columns(w2.data(), rows, d, s.data());
  fold_into_gain(g2.data(), d, s.data());
  const auto y = norm_linear(x, g, w, n, d, rows);
  EXPECT_LT(max_rel_diff(y, norm_linear(x, g2, w2, n, d, rows)), 1e-5);

  // W8A8 error with and without smoothing.
  auto w8a8_err = [&](const std::vector<float>& wt, const std::vector<float>& gain) {
    std::vector<float> xin(static_cast<size_t>(n * d));
    for (int64_t t = 0; t < n; ++t) {
      double ss = 0;
      for (int64_t j = 0; j < d; ++j) ss += double(x[size_t(t * d + j)]) * x[size_t(t * d + j)];
      const double inv = 1 / std::sqrt(ss / d + 1e-5);
      for (int64_t j = 0; j < d; ++j)
        xin[size_t(t * d + j)] = float(x[size_t(t * d + j)] * inv * gain[size_t(j)]);
    }
    std::vector<int8_t> q(static_cast<size_t>(rows * d));
    std::vector<float> sc(static_cast<size_t>(rows)), out(static_cast<size_t>(n * rows));
    quantize_int8_per_channel(wt.data(), rows, d, q.data(), sc.data());
    w8a8_matmul_isa(q.data(), sc.data(), rows, d, xin.data(), n, out.data(), W8A8Isa::kScalar);
    double e = 0;
    for (size_t i = 0; i < out.size(); ++i) e += (out[i] - y[i]) * (out[i] - y[i]);
    return e;
  };
  const double plain = w8a8_err(w, g), smoothed = w8a8_err(w2, g2);
  std::printf("W8A8 squared error: plain %.4g, smoothed %.4g\n", plain, smoothed);
  EXPECT_LT(smoothed, plain);
}

TEST(W8A8, KernelEqualsScalarReferenceExactly) {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> q(-127, 127);
  for (int64_t k : {1, 31, 64, 100, 300, 768}) {
    std::vector<int8_t> a(static_cast<size_t>(k)), b(static_cast<size_t>(k));
    for (auto& v : a) v = int8_t(q(rng));
    for (auto& v : b) v = int8_t(q(rng));
    // Extremes: every product at ±127².
    if (k == 64)
      std::fill(a.begin(), a.end(), int8_t(-127)), std::fill(b.begin(), b.end(), int8_t(127));
    int32_t ref = 0;
    for (int64_t i = 0; i < k; ++i) ref += int32_t(a[size_t(i)]) * b[size_t(i)];
    for (W8A8Isa isa : {W8A8Isa::kScalar, W8A8Isa::kAvx2, W8A8Isa::kAvx512Vnni}) {
      if (!w8a8_isa_supported(isa)) continue;
      EXPECT_EQ(dot_i8(a.data(), b.data(), k, isa), ref) << w8a8_isa_name(isa) << " k=" << k;
    }
  }
  // The threaded product equals the single-threaded scalar one bit for bit.
  const int64_t n = 7, k = 200, rows = 45;
  const auto x = activations(n, k, 14);
  std::vector<int8_t> w(static_cast<size_t>(rows * k));
  for (auto& v : w) v = int8_t(q(rng));
  const auto scales = randn(size_t(rows), 0.01f, 15);
  std::vector<float> y_ref(static_cast<size_t>(n * rows)), y(static_cast<size_t>(n * rows));
  w8a8_matmul_isa(w.data(), scales.data(), rows, k, x.data(), n, y_ref.data(), W8A8Isa::kScalar);
  w8a8_matmul(w.data(), scales.data(), rows, k, x.data(), n, y.data());
  EXPECT_EQ(y, y_ref);
  std::printf("W8A8 best ISA here: %s\n", w8a8_isa_name(w8a8_best_isa()));
}

}  // namespace
}  // namespace edgefit
