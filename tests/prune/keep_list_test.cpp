// Keep-lists: the lowest-scored units go first, exact counts, deterministic ties, and errors for
// requests that would remove everything or lists out of range.
#include "prune/keep_list.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace edgefit {
namespace {

TEST(KeepList, RemovesTheLowestScores) {
  const std::vector<double> s = {5, 1, 4, 2, 3};
  EXPECT_EQ(select_keep(s, 2, "units"), (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(select_keep(s, 0, "units"), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(select_keep(s, 4, "units"), (std::vector<int64_t>{0}));
  // 25 % of 5 units is floor(1.25) = 1.
  EXPECT_EQ(select_keep_fraction(s, 0.25, "units"), (std::vector<int64_t>{0, 2, 3, 4}));
}

TEST(KeepList, TiesRemoveTheLowerIndexFirst) {
  const std::vector<double> s = {1, 1, 1, 1};
  EXPECT_EQ(select_keep(s, 2, "units"), (std::vector<int64_t>{2, 3}));
}

TEST(KeepList, RefusesToRemoveEverything) {
  const std::vector<double> s = {1, 2, 3};
  EXPECT_THROW(select_keep(s, 3, "layers"), Error);
  EXPECT_THROW(select_keep(s, -1, "layers"), Error);
  EXPECT_THROW(select_keep({}, 0, "layers"), Error);
  EXPECT_THROW(select_keep({1.0, NAN}, 1, "layers"), Error);
  EXPECT_THROW(select_keep_fraction(s, 1.0, "layers"), Error);
  EXPECT_THROW(select_keep_fraction(s, -0.5, "layers"), Error);
}

TEST(KeepList, CheckNamesTheBadIndex) {
  EXPECT_NO_THROW(check_keep_list({0, 3, 7}, 8, "FFN channels"));
  try {
    check_keep_list({0, 3, 8}, 8, "FFN channels");
    FAIL() << "index 8 of 8 must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FFN channels"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("8 is out of range [0, 8)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(check_keep_list({-1}, 8, "layers"), Error);
  EXPECT_THROW(check_keep_list({}, 8, "layers"), Error);
  EXPECT_THROW(check_keep_list({2, 2}, 8, "layers"), Error);
  EXPECT_THROW(check_keep_list({3, 1}, 8, "layers"), Error);
}

}  // namespace
}  // namespace edgefit
