// Structured scores on constructed inputs: energies computed by hand, GQA groups that go
// together, FFN channels scored through down's input, and ShortGPT's block influence on blocks
// whose cosine is known.
#include "prune/structured_scores.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "prune/keep_list.h"

namespace edgefit {
namespace {

TEST(HeadScores, EnergyPerHeadIsColumnNormTimesActivationSumOfSquares) {
  // hidden 2, 2 heads of 2 channels: W_o columns (1,0) (0,2) | (1,1) (3,0).
  const std::vector<float> w_o = {1, 0, 1, 3,  //
                                  0, 2, 1, 0};
  const std::vector<double> sum_sq = {4, 1, 2, 0.5};
  const HeadLayout layout{2, 2, 2};
  const auto s = query_head_scores(w_o.data(), 2, sum_sq.data(), layout);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_DOUBLE_EQ(s[0], 1 * 4 + 4 * 1);    // ‖(1,0)‖²·4 + ‖(0,2)‖²·1
  EXPECT_DOUBLE_EQ(s[1], 2 * 2 + 9 * 0.5);  // ‖(1,1)‖²·2 + ‖(3,0)‖²·0.5
}

TEST(HeadScores, AKvHeadGoesWithItsWholeQueryGroup) {
  // 4 query heads sharing 2 KV heads: group 0 = heads 0, 1; group 1 = heads 2, 3. Head 1 is the
  // weakest head, but its group (10 + 0.5) outweighs group 1 (4 + 4): group 1 goes, and with it
  // heads 2 and 3 — never head 1 alone.
  const HeadLayout layout{4, 2, 1};
  const std::vector<float> w_o = {1, 1, 1, 1};  // hidden 1: every column norm 1
  const std::vector<double> sum_sq = {10, 0.5, 4, 4};
  const auto heads = query_head_scores(w_o.data(), 1, sum_sq.data(), layout);
  const auto groups = kv_group_scores(heads, layout);
  EXPECT_EQ(groups, (std::vector<double>{10.5, 8}));
  const auto keep = select_keep_fraction(groups, 0.5, "KV heads");
  EXPECT_EQ(keep, (std::vector<int64_t>{0}));
  EXPECT_EQ(query_heads_of_groups(keep, layout), (std::vector<int64_t>{0, 1}));
  // Multi-head attention: each group is one head.
  const HeadLayout mha{4, 4, 1};
  EXPECT_EQ(kv_group_scores(heads, mha), heads);
  EXPECT_EQ(query_heads_of_groups({1, 3}, mha), (std::vector<int64_t>{1, 3}));
}

TEST(HeadScores, RefusesInconsistentLayoutsAndKeepLists) {
  const std::vector<float> w(6, 1.f);
  const std::vector<double> ss(6, 1.0);
  EXPECT_THROW(query_head_scores(w.data(), 1, ss.data(), {6, 4, 1}), Error);  // 4 ∤ 6
  EXPECT_THROW(query_head_scores(w.data(), 1, ss.data(), {0, 0, 1}), Error);
  EXPECT_THROW(kv_group_scores({1, 2, 3}, {4, 2, 1}), Error);
  EXPECT_THROW(query_heads_of_groups({0, 2}, {4, 2, 1}), Error);  // only groups 0, 1
}

TEST(FfnScores, ChannelScoreComesThroughDownsInput) {
  // ffn_down [hidden 2, ffn 3]: channel 1 has the largest weights but never activates; channel
  // 2 has small weights on large activations.
  const std::vector<float> w_down = {0.5f, 9.f, 0.1f,  //
                                     0.5f, 9.f, 0.1f};
  const std::vector<double> sum_sq = {4, 0, 1e4};
  const auto s = ffn_channel_scores(w_down.data(), 2, 3, sum_sq.data());
  EXPECT_DOUBLE_EQ(s[0], 0.5 * 4);
  EXPECT_DOUBLE_EQ(s[1], 0);
  EXPECT_NEAR(s[2], 0.02f * 1e4, 1e-3);
  EXPECT_EQ(select_keep(s, 1, "FFN channels"), (std::vector<int64_t>{0, 2}));
  const std::vector<double> bad = {1, -1, 1};
  EXPECT_THROW(ffn_channel_scores(w_down.data(), 2, 3, bad.data()), Error);
}

TEST(BlockInfluence, OneMinusTheMeanCosine) {
  const int64_t width = 3;
  const std::vector<float> in = {1, 0, 0, /**/ 0, 2, 0};
  BlockInfluence same(width), flipped(width), turned(width), mixed(width);
  same.add(in.data(), in.data(), 2);
  EXPECT_NEAR(same.value(), 0.0, 1e-12);
  const std::vector<float> neg = {-1, 0, 0, /**/ 0, -5, 0};
  flipped.add(in.data(), neg.data(), 2);
  EXPECT_NEAR(flipped.value(), 2.0, 1e-12);
  const std::vector<float> ortho = {0, 0, 3, /**/ 1, 0, 0};
  turned.add(in.data(), ortho.data(), 2);
  EXPECT_NEAR(turned.value(), 1.0, 1e-12);
  // Token 0 at 45° (cos √½), token 1 unchanged (cos 1), in two batches.
  const std::vector<float> out = {1, 1, 0, /**/ 0, 7, 0};
  mixed.add(in.data(), out.data(), 1);
  mixed.add(in.data() + width, out.data() + width, 1);
  EXPECT_EQ(mixed.tokens(), 2);
  EXPECT_NEAR(mixed.value(), 1.0 - (std::sqrt(0.5) + 1.0) / 2, 1e-12);
}

TEST(BlockInfluence, DropsTheLayersThatChangeTheStreamLeast) {
  // Three layers: BI 1, 0 (identity), 2 (reversal): dropping one layer drops layer 1.
  const std::vector<float> in = {1, 2};
  const std::vector<float> outs[3] = {{-2, 1}, {1, 2}, {-1, -2}};
  std::vector<double> bi;
  for (const auto& out : outs) {
    BlockInfluence b(2);
    b.add(in.data(), out.data(), 1);
    bi.push_back(b.value());
  }
  EXPECT_EQ(select_keep(bi, 1, "layers"), (std::vector<int64_t>{0, 2}));
  BlockInfluence empty(2);
  const std::vector<float> zero = {0, 0};
  empty.add(zero.data(), in.data(), 1);
  EXPECT_EQ(empty.tokens(), 0);
  EXPECT_THROW(empty.value(), Error);
  EXPECT_THROW(BlockInfluence(0), Error);
}

}  // namespace
}  // namespace edgefit
