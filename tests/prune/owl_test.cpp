// OWL on constructed statistics: outlier ratios counted by hand, sparsities that follow OWL's
// formula, stay within ±λ, average exactly to the target by parameter count, and errors.
#include "prune/owl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace edgefit {
namespace {

double weighted_mean(const std::vector<double>& s, const std::vector<int64_t>& n) {
  double a = 0, t = 0;
  for (size_t i = 0; i < s.size(); ++i) a += s[i] * n[i], t += n[i];
  return a / t;
}

TEST(Owl, OutlierRatioCountsScoresAboveMTimesTheMean) {
  // 99 ones and one 1000: mean 10.99, threshold 54.95 at M = 5: one outlier of 100.
  std::vector<float> a(99, 1.f);
  a.push_back(1000.f);
  const std::span<const float> one[] = {a};
  EXPECT_DOUBLE_EQ(outlier_ratio(one), 0.01);
  // Split over two tensors of one layer, the mean and the count are the layer's.
  const std::vector<float> b(a.begin(), a.begin() + 50), c(a.begin() + 50, a.end());
  const std::span<const float> two[] = {b, c};
  EXPECT_DOUBLE_EQ(outlier_ratio(two), 0.01);
  // At M = 0.05 the threshold is 0.5495: every score is above it.
  EXPECT_DOUBLE_EQ(outlier_ratio(one, 0.05), 1.0);
  const std::span<const float> none[] = {std::span<const float>()};
  EXPECT_THROW(outlier_ratio(none), Error);
  EXPECT_THROW(outlier_ratio(one, 0), Error);
}

TEST(Owl, FollowsThePaperFormulaOnEqualLayers) {
  // D = 0, 1, 0.5 → deviations +2λ·0.5, −2λ·0.5, 0.
  const auto s = owl_sparsities({0.01, 0.03, 0.02}, {100, 100, 100}, {0.7, 0.08});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_NEAR(s[0], 0.78, 1e-12);
  EXPECT_NEAR(s[1], 0.62, 1e-12);
  EXPECT_NEAR(s[2], 0.70, 1e-12);
}

TEST(Owl, StaysInTheBandAndAveragesToTheTargetByParameters) {
  const std::vector<double> ratios = {0.002, 0.004, 0.05, 0.003, 0.0021, 0.01, 0.007};
  const std::vector<int64_t> counts = {1000, 5000, 1000, 2000, 700, 3000, 1000};
  for (const double lambda : {0.0, 0.02, 0.08, 0.2}) {
    const auto s = owl_sparsities(ratios, counts, {0.6, lambda});
    EXPECT_NEAR(weighted_mean(s, counts), 0.6, 1e-12) << lambda;
    double widest = 0;
    for (size_t l = 0; l < s.size(); ++l) {
      EXPECT_LE(std::fabs(s[l] - 0.6), lambda + 1e-12) << l;
      widest = std::max(widest, std::fabs(s[l] - 0.6));
      // More outliers, less pruning.
      for (size_t k = 0; k < s.size(); ++k)
        if (ratios[k] > ratios[l]) {
          EXPECT_LE(s[k], s[l]) << k << " vs " << l;
        }
    }
    // The skewed layer (0.05) takes the whole band.
    EXPECT_NEAR(widest, lambda, 1e-12) << lambda;
  }
}

TEST(Owl, EqualRatiosGiveTheTargetEverywhere) {
  const auto s = owl_sparsities({0.01, 0.01, 0.01}, {1, 2, 3}, {0.5, 0.1});
  for (const double v : s) EXPECT_EQ(v, 0.5);
}

TEST(Owl, RefusesImpossibleRequests) {
  EXPECT_THROW(owl_sparsities({}, {}, {}), Error);
  EXPECT_THROW(owl_sparsities({0.1, 0.2}, {1}, {}), Error);
  EXPECT_THROW(owl_sparsities({0.1, 1.5}, {1, 1}, {}), Error);
  EXPECT_THROW(owl_sparsities({0.1, 0.2}, {1, 0}, {}), Error);
  EXPECT_THROW(owl_sparsities({0.1, 0.2}, {1, 1}, {1.0, 0.0}), Error);
  EXPECT_THROW(owl_sparsities({0.1, 0.2}, {1, 1}, {0.95, 0.08}), Error);
  EXPECT_THROW(owl_sparsities({0.1, 0.2}, {1, 1}, {0.05, 0.08}), Error);
  EXPECT_THROW(owl_sparsities({0.1, 0.2}, {1, 1}, {0.5, -0.1}), Error);
}

}  // namespace
}  // namespace edgefit
