// SparsityPattern: what it accepts, what it refuses with an Error, its text form and counts.
#include "prune/sparsity_pattern.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace edgefit {
namespace {

TEST(SparsityPattern, ParsesFractionsAndNOfM) {
  const auto half = SparsityPattern::parse("0.5");
  EXPECT_FALSE(half.is_n_of_m());
  EXPECT_DOUBLE_EQ(half.fraction(), 0.5);
  const auto two_four = SparsityPattern::parse("2:4");
  EXPECT_TRUE(two_four.is_n_of_m());
  EXPECT_EQ(two_four.n(), 2);
  EXPECT_EQ(two_four.m(), 4);
  EXPECT_DOUBLE_EQ(two_four.sparsity(), 0.5);
  EXPECT_DOUBLE_EQ(SparsityPattern::parse("1:4").sparsity(), 0.75);
  EXPECT_TRUE(SparsityPattern().dense());
  EXPECT_TRUE(SparsityPattern::parse("0").dense());
  for (const char* text : {"0.3", "0.7", "4:8", "2:4", "0.123456789"})
    EXPECT_EQ(SparsityPattern::parse(SparsityPattern::parse(text).to_string()),
              SparsityPattern::parse(text))
        << text;
}

TEST(SparsityPattern, RefusesImpossiblePatterns) {
  for (const char* text :
       {"1", "1.5", "-0.1", "nan", "4:4", "5:4", "0:4", "2:", ":4", "2:4x", "half", "", "2:300"})
    EXPECT_THROW(SparsityPattern::parse(text), Error) << text;
  EXPECT_THROW(SparsityPattern::unstructured(1.0), Error);
  EXPECT_THROW(SparsityPattern::n_of_m(3, 2), Error);
}

TEST(SparsityPattern, NOfMNeedsWholeGroupsPerRow) {
  const auto p = SparsityPattern::n_of_m(2, 4);
  EXPECT_NO_THROW(p.check_row(4096));
  try {
    p.check_row(4098, "blk.0.ffn_down.weight");
    FAIL() << "2:4 on rows of 4098 must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_down.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("4098"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SparsityPattern::n_of_m(4, 8).check_row(12), Error);
  EXPECT_NO_THROW(SparsityPattern::unstructured(0.5).check_row(7));
}

TEST(SparsityPattern, PruneCountIsTheExactFloor) {
  EXPECT_EQ(prune_count(0.5, 7), 3);
  EXPECT_EQ(prune_count(0.29, 100), 29);  // 0.29 · 100 is 28.999… in binary
  EXPECT_EQ(prune_count(0.7, 10), 7);
  EXPECT_EQ(prune_count(0.0, 1000), 0);
  EXPECT_EQ(prune_count(0.999, 10), 9);
  EXPECT_EQ(prune_count(0.5, int64_t{1} << 40), int64_t{1} << 39);
}

}  // namespace
}  // namespace edgefit
