// Magnitude and Wanda: masks known by construction, Wanda = magnitude when every channel has the
// same norm, the Σx² → ‖X‖ conversion, and Wanda's lower output error when inputs have outliers.
#include "prune/score_prune.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "synthetic_layer.h"

namespace edgefit {
namespace {

TEST(Magnitude, PrunesTheSmallestAbsoluteValues) {
  const std::vector<float> w = {0.5f,  -3.f, 0.1f, 2.f,  //
                                -0.2f, 0.3f, -4.f, 1.f};
  const auto half = magnitude_prune(w.data(), 2, 4, SparsityPattern::unstructured(0.5));
  // Per layer: the four smallest |w| are 0.1, 0.2, 0.3, 0.5.
  EXPECT_EQ(half.weights, (std::vector<float>{0, -3.f, 0, 2.f, 0, 0, -4.f, 1.f}));
  EXPECT_EQ(half.pruned_count, 4);
  const auto nm = magnitude_prune(w.data(), 2, 4, SparsityPattern::n_of_m(2, 4));
  EXPECT_EQ(nm.pruned, (std::vector<uint8_t>{1, 0, 1, 0, 1, 1, 0, 0}));
}

TEST(Wanda, AnOutlierChannelKeepsItsSmallWeights) {
  // Column 2 carries activations 100× larger: its small weights outrank the others' big ones.
  const std::vector<float> w = {1.f,  -2.f, 0.05f,  3.f,  //
                                -4.f, 1.f,  -0.03f, 0.5f};
  const std::vector<float> norms = {1, 1, 100, 1};
  const auto p = wanda_prune(w.data(), 2, 4, norms.data(), SparsityPattern::unstructured(0.5));
  // Row 0 scores 1, 2, 5, 3 → prune columns 0, 1; row 1 scores 4, 1, 3, 0.5 → prune 3, 1.
  EXPECT_EQ(p.pruned, (std::vector<uint8_t>{1, 1, 0, 0, 0, 1, 0, 1}));
  EXPECT_EQ(p.weights[2], 0.05f);
  // Magnitude, per row, would have pruned the outlier channel's weights first.
  const auto m =
      magnitude_prune(w.data(), 2, 4, SparsityPattern::unstructured(0.5), MaskScope::kPerRow);
  EXPECT_EQ(m.pruned[2], 1);
  EXPECT_EQ(m.pruned[6], 1);
}

TEST(Wanda, EqualsMagnitudeWhenAllChannelNormsAreEqual) {
  const int64_t rows = 24, cols = 64;
  const auto w = test::random_weights(rows, cols, 11);
  const std::vector<float> norms(cols, 3.5f);
  for (const char* text : {"0.5", "0.7", "2:4", "4:8"}) {
    const auto pattern = SparsityPattern::parse(text);
    for (const auto scope : {MaskScope::kPerRow, MaskScope::kPerLayer}) {
      const auto a = wanda_prune(w.data(), rows, cols, norms.data(), pattern, scope);
      const auto b = magnitude_prune(w.data(), rows, cols, pattern, scope);
      EXPECT_EQ(a.pruned, b.pruned) << text;
      EXPECT_EQ(a.weights, b.weights) << text;
    }
  }
}

TEST(Wanda, ChannelNormsFromSumsOfSquaresAndImatrixMeans) {
  const int64_t n = 50, cols = 8;
  const auto x = test::make_inputs(n, cols, 2, 0, 3, 10.f);
  const auto sum_sq = test::sum_sq_of(x, n, cols);
  const auto norms = channel_norms_from_sum_sq(sum_sq.data(), cols);
  std::vector<float> mean_sq(cols);
  for (int64_t j = 0; j < cols; ++j) {
    double direct = 0;
    for (int64_t t = 0; t < n; ++t) direct += double(x[t * cols + j]) * x[t * cols + j];
    EXPECT_NEAR(norms[j], std::sqrt(direct), 1e-5 * std::sqrt(direct));
    mean_sq[j] = static_cast<float>(direct / n);
  }
  const auto from_imatrix = channel_norms_from_mean_sq(mean_sq.data(), cols, n);
  for (int64_t j = 0; j < cols; ++j) EXPECT_NEAR(from_imatrix[j], norms[j], 1e-5 * norms[j]);
  const std::vector<double> bad = {1.0, -1.0};
  EXPECT_THROW(channel_norms_from_sum_sq(bad.data(), 2), Error);
  const std::vector<float> w(4, 1.f), bad_norms = {1.f, NAN};
  EXPECT_THROW(wanda_scores(w.data(), 2, 2, bad_norms.data()), Error);
}

TEST(Wanda, LowerOutputErrorThanMagnitudeWithOutlierChannels) {
  const int64_t n = 256, rows = 32, cols = 128;
  const auto x = test::make_inputs(n, cols, 5, 0, 16, 20.f);
  const auto w = test::random_weights(rows, cols, 6);
  const auto sum_sq = test::sum_sq_of(x, n, cols);
  const auto norms = channel_norms_from_sum_sq(sum_sq.data(), cols);
  for (const char* text : {"0.5", "2:4", "4:8"}) {
    const auto pattern = SparsityPattern::parse(text);
    const auto wanda = wanda_prune(w.data(), rows, cols, norms.data(), pattern);
    const auto mag = magnitude_prune(w.data(), rows, cols, pattern);
    const double e_wanda = test::output_error(w, wanda.weights, rows, cols, x, n);
    const double e_mag = test::output_error(w, mag.weights, rows, cols, x, n);
    EXPECT_LT(e_wanda, 0.7 * e_mag) << text;
  }
}

}  // namespace
}  // namespace edgefit
