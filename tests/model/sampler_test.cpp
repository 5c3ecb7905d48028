#include "model/sampler.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace edgefit {
namespace {

TEST(Sampler, GreedyIsArgmax) {
  Sampler s({.temperature = 0.0f, .top_k = 40, .top_p = 0.9f, .seed = 7});
  const std::vector<float> l = {0.1f, 2.0f, -1.0f, 2.0f, 0.5f};
  EXPECT_EQ(s.sample(l), 1);  // ties go to the lower id
}

TEST(Sampler, TopKRestrictsChoices) {
  Sampler s({.temperature = 5.0f, .top_k = 2, .top_p = 1.0f, .seed = 3});
  const std::vector<float> l = {0.0f, 3.0f, 2.9f, 0.1f, -2.0f};
  std::set<int32_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(s.sample(l));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 2}));
}

TEST(Sampler, TopPKeepsNucleus) {
  Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 0.5f, .seed = 3});
  const std::vector<float> l = {10.0f, 0.0f, 0.0f, 0.0f};  // token 0 holds ~all the mass
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(l), 0);
}

TEST(Sampler, SeedIsReproducible) {
  const std::vector<float> l = {1.0f, 1.1f, 0.9f, 1.05f, 0.95f};
  Sampler a({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42});
  Sampler b({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42});
  std::vector<int32_t> ra, rb;
  for (int i = 0; i < 64; ++i) {
    ra.push_back(a.sample(l));
    rb.push_back(b.sample(l));
  }
  EXPECT_EQ(ra, rb);
  EXPECT_GT(std::set<int32_t>(ra.begin(), ra.end()).size(), 2u);
}

}  // namespace
}  // namespace edgefit
