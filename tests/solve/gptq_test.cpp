// GPTQ's math on synthetic layers: it lowers the Hessian-weighted error against round-to-nearest
// in every target format, the inverse Cholesky factor matches a direct solve, and each format's
// grid rounding packs bytes that dequantize exactly to the values GPTQ used.
#include "solve/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/error.h"
#include "quant/quant_traits.h"
#include "solve/gptq_grid.h"

namespace edgefit {
namespace {

// Activations with correlated channels and a few outlier channels, like a real layer's input.
std::vector<float> make_inputs(int64_t n, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  const int64_t k = 16;  // latent factors
  std::vector<float> mix(static_cast<size_t>(k * cols));
  for (auto& v : mix) v = nd(rng);
  std::vector<float> scale(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j)
    scale[static_cast<size_t>(j)] = (j % 37 == 0) ? 8.f : 0.5f + std::fabs(nd(rng));
  std::vector<float> x(static_cast<size_t>(n * cols));
  std::vector<float> z(static_cast<size_t>(k));
  for (int64_t t = 0; t < n; ++t) {
    for (auto& v : z) v = nd(rng);
    for (int64_t j = 0; j < cols; ++j) {
      float s = 0.3f * nd(rng);
      for (int64_t f = 0; f < k; ++f)
        s += z[static_cast<size_t>(f)] * mix[static_cast<size_t>(f * cols + j)] * 0.25f;
      x[static_cast<size_t>(t * cols + j)] = s * scale[static_cast<size_t>(j)];
    }
  }
  return x;
}

std::vector<float> hessian_of(const std::vector<float>& x, int64_t n, int64_t cols) {
  HessianAccumulator acc(cols);
  // In two batches, to exercise accumulation.
  acc.add(x.data(), n / 2);
  acc.add(x.data() + (n / 2) * cols, n - n / 2);
  return acc.finalize();
}

std::vector<float> random_weights(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.05f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = nd(rng);
  return w;
}

TEST(Hessian, AccumulatorEqualsDirectProduct) {
  const int64_t n = 100, cols = 300;  // width not a multiple of the panel size
  const auto x = make_inputs(n, cols, 1);
  const auto h = hessian_of(x, n, cols);
  for (int64_t i = 0; i < cols; i += 7)
    for (int64_t j = 0; j < cols; j += 11) {
      double s = 0;
      for (int64_t t = 0; t < n; ++t)
        s += double(x[size_t(t * cols + i)]) * x[size_t(t * cols + j)];
      EXPECT_NEAR(h[size_t(i * cols + j)], 2 * s / n, 1e-3 * (1 + std::fabs(2 * s / n)));
    }
}

TEST(Hessian, GramInputEqualsRows) {
  const int64_t n = 50, cols = 40;
  const auto x = make_inputs(n, cols, 6);
  std::vector<float> gram(static_cast<size_t>(cols * cols), 0.f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        gram[size_t(i * cols + j)] += x[size_t(t * cols + i)] * x[size_t(t * cols + j)];
  HessianAccumulator a(cols), b(cols), c(cols);
  a.add(x.data(), n);
  b.add_gram(gram.data(), n);
  // Row panels [0, 16) and [16, 40), each up to its last column.
  std::vector<float> blk;
  for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 16}, {16, 40}}) {
    blk.clear();
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t j = 0; j < r1; ++j) blk.push_back(gram[size_t(i * cols + j)]);
    c.add_gram_rows(blk.data(), r0, r1);
  }
  c.count_rows(n);
  const auto& ha = a.finalize();
  const auto& hb = b.finalize();
  const auto& hc = c.finalize();
  for (size_t k = 0; k < ha.size(); ++k) {
    EXPECT_NEAR(ha[k], hb[k], 1e-4f * (1 + std::fabs(ha[k])));
    EXPECT_NEAR(ha[k], hc[k], 1e-4f * (1 + std::fabs(ha[k])));
  }
}

TEST(Gptq, InverseCholeskyMatchesDirectSolve) {
  const int64_t n = 48;
  const auto x = make_inputs(200, n, 2);
  const auto h = hessian_of(x, 200, n);
  const double damp = 0.01;
  std::vector<float> u;
  ASSERT_TRUE(inverse_cholesky_upper(h.data(), n, damp, u));
  // Direct: solve (H + damp I) Y = I by Gauss-Jordan in double.
  std::vector<double> a(size_t(n * 2 * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      a[size_t(i * 2 * n + j)] = h[size_t(i * n + j)] + (i == j ? damp : 0.0);
    a[size_t(i * 2 * n + n + i)] = 1.0;
  }
  for (int64_t c = 0; c < n; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (std::fabs(a[size_t(r * 2 * n + c)]) > std::fabs(a[size_t(p * 2 * n + c)])) p = r;
    for (int64_t j = 0; j < 2 * n; ++j)
      std::swap(a[size_t(c * 2 * n + j)], a[size_t(p * 2 * n + j)]);
    const double piv = a[size_t(c * 2 * n + c)];
    for (int64_t j = 0; j < 2 * n; ++j) a[size_t(c * 2 * n + j)] /= piv;
    for (int64_t r = 0; r < n; ++r)
      if (r != c) {
        const double f = a[size_t(r * 2 * n + c)];
        for (int64_t j = 0; j < 2 * n; ++j)
          a[size_t(r * 2 * n + j)] -= f * a[size_t(c * 2 * n + j)];
      }
  }
  double max_inv = 0, max_err = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      EXPECT_EQ(i > j ? u[size_t(i * n + j)] : 0.f, 0.f);  // upper triangular
      double s = 0;                                        // (Uᵀ U)[i, j]
      for (int64_t k = 0; k < n; ++k) s += double(u[size_t(k * n + i)]) * u[size_t(k * n + j)];
      const double direct = a[size_t(i * 2 * n + n + j)];
      max_inv = std::max(max_inv, std::fabs(direct));
      max_err = std::max(max_err, std::fabs(s - direct));
    }
  EXPECT_LT(max_err, 1e-3 * max_inv);
}

// Every format with a grid: random codes and GPTQ-style rounding both pack to bytes that
// dequantize bit for bit to grid_value().
TEST(GptqGrid, PackedBytesDequantizeToTheValuesUsed) {
  const DType types[] = {DType::Q4_0, DType::Q4_1,   DType::Q5_0, DType::Q5_1,
                         DType::Q8_0, DType::IQ4_NL, DType::Q2_K, DType::Q3_K,
                         DType::Q4_K, DType::Q5_K,   DType::Q6_K};
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 0.1f);
  for (DType t : types) {
    SCOPED_TRACE(dtype_name(t));
    const FormatGrid* g = format_grid(t);
    ASSERT_NE(g, nullptr);
    ASSERT_TRUE(gptq_supports(t));
    const QuantTraits* qt = quant_traits(t);
    const int bs = g->block_size;
    const size_t B = static_cast<size_t>(bs);
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> x(B), imp(B), step(B), off(B), used(B), back(B);
      for (int j = 0; j < bs; ++j)
        x[size_t(j)] = nd(rng) * (trial % 3 == 0 ? 0.f : 1.f) + (j % 16 == 0 ? 0.05f : 0.f);
      for (auto& v : imp) v = std::fabs(nd(rng)) + 0.01f;
      std::vector<uint8_t> blk(g->type_size);
      qt->quantize_row(x.data(), blk.data(), bs, trial % 2 ? imp.data() : nullptr);
      g->decode(blk.data(), step.data(), off.data());
      // The quantizer's own output lies on the grid it chose.
      qt->dequantize_row(blk.data(), back.data(), bs);
      std::vector<uint8_t> codes(B);
      for (int j = 0; j < bs; ++j) {
        // GPTQ moves weights after the scales are fixed: round perturbed values.
        const float w = x[size_t(j)] + 0.02f * nd(rng);
        codes[size_t(j)] =
            uint8_t(grid_round(*g, step[size_t(j)], off[size_t(j)], w, &used[size_t(j)]));
        float self;
        // Rounding a value that is on the grid returns it.
        grid_round(*g, step[size_t(j)], off[size_t(j)], back[size_t(j)], &self);
        EXPECT_EQ(self, back[size_t(j)]) << j;
      }
      g->pack(blk.data(), codes.data());
      qt->dequantize_row(blk.data(), back.data(), bs);
      // Bit for bit, the sign of zeros included.
      EXPECT_EQ(std::memcmp(back.data(), used.data(), sizeof(float) * B), 0);
      // Random codes over the full range.
      std::uniform_int_distribution<int> cd(g->q_min, g->q_max);
      for (auto& c : codes) c = uint8_t(cd(rng));
      g->pack(blk.data(), codes.data());
      qt->dequantize_row(blk.data(), back.data(), bs);
      for (int j = 0; j < bs; ++j)
        used[size_t(j)] = grid_value(*g, step[size_t(j)], off[size_t(j)], codes[size_t(j)]);
      EXPECT_EQ(std::memcmp(back.data(), used.data(), sizeof(float) * B), 0);
    }
  }
}

struct ProxyCase {
  DType type;
  bool act_order;
};

class GptqProxy : public ::testing::TestWithParam<ProxyCase> {};

// GPTQ lowers tr((W−Q) H (W−Q)ᵀ) against plain round-to-nearest and against the
// importance-weighted RTN (H's diagonal as importance, what an imatrix gives).
TEST_P(GptqProxy, BeatsRoundToNearest) {
  const auto [type, act_order] = GetParam();
  const int64_t rows = 64, cols = 512, n = 2048;
  const auto x = make_inputs(n, cols, 4);
  const auto h = hessian_of(x, n, cols);
  const auto w = random_weights(rows, cols, 5);
  const size_t bytes = quant_row_size(type, cols) * size_t(rows);
  std::vector<uint8_t> rtn(bytes), rtn_imp(bytes);
  quantize_tensor(type, w.data(), rows, cols, rtn.data(), nullptr);
  std::vector<float> diag(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) diag[size_t(j)] = h[size_t(j * cols + j)];
  quantize_tensor(type, w.data(), rows, cols, rtn_imp.data(), diag.data());
  GptqOptions o;
  o.act_order = act_order;
  const GptqResult g = gptq_quantize(w.data(), rows, cols, h.data(), type, o);
  ASSERT_EQ(g.bytes.size(), bytes);
  const double e_rtn = hessian_error(w.data(), rtn.data(), type, rows, cols, h.data());
  const double e_imp = hessian_error(w.data(), rtn_imp.data(), type, rows, cols, h.data());
  const double e_gptq = hessian_error(w.data(), g.bytes.data(), type, rows, cols, h.data());
  std::printf("%-6s act_order=%d  RTN %.4g  RTN+imp %.4g  GPTQ %.4g  (%.0f%% of RTN)\n",
              std::string(dtype_name(type)).c_str(), int(act_order), e_rtn, e_imp, e_gptq,
              100 * e_gptq / e_rtn);
  EXPECT_LT(e_gptq, 0.9 * e_rtn);
  EXPECT_LT(e_gptq, e_imp);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, GptqProxy,
    ::testing::Values(ProxyCase{DType::Q4_0, false}, ProxyCase{DType::Q4_K, false},
                      ProxyCase{DType::Q3_K, false}, ProxyCase{DType::Q2_K, false},
                      ProxyCase{DType::Q6_K, false}, ProxyCase{DType::Q8_0, false},
                      ProxyCase{DType::IQ4_NL, false}, ProxyCase{DType::Q5_K, false},
                      ProxyCase{DType::Q4_0, true}, ProxyCase{DType::Q4_K, true},
                      ProxyCase{DType::Q3_K, true}),
    [](const auto& info) {
      return std::string(dtype_name(info.param.type)) + (info.param.act_order ? "_act_order" : "");
    });

TEST(Gptq, RejectsUnsupportedTypeAndBadWidth) {
  std::vector<float> w(64 * 64, 0.1f), h(64 * 64, 0.f);
  for (int i = 0; i < 64; ++i) h[size_t(i * 64 + i)] = 1.f;
  EXPECT_THROW(gptq_quantize(w.data(), 85, 48, h.data(), DType::Q4_0, {}), Error);  // 48 % 32
  EXPECT_THROW(gptq_quantize(w.data(), 64, 64, h.data(), DType::F16, {}), Error);
  EXPECT_FALSE(gptq_supports(DType::F16));
}

}  // namespace
}  // namespace edgefit
