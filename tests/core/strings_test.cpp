// ascii_lower / ascii_iequal: A-Z fold, nothing else changes (digits, '_', '@', '[', UTF-8 bytes).
#include "core/strings.h"

#include <gtest/gtest.h>

namespace edgefit {
namespace {

TEST(Strings, AsciiLowerFoldsOnlyAToZ) {
  EXPECT_EQ(ascii_lower("Q4_K_M"), "q4_k_m");
  EXPECT_EQ(ascii_lower("BF16"), "bf16");
  EXPECT_EQ(ascii_lower(""), "");
  // The bytes just outside A-Z ('@' before A, '[' after Z) and lower case stay as they are.
  EXPECT_EQ(ascii_lower("@AZ[az`{"), "@az[az`{");
  // UTF-8 (here "Ä", C3 84) passes through byte for byte.
  EXPECT_EQ(ascii_lower("\xC3\x84X"), "\xC3\x84x");
}

TEST(Strings, AsciiIequalComparesFolded) {
  EXPECT_TRUE(ascii_iequal("Q4_K_M", "q4_k_m"));
  EXPECT_TRUE(ascii_iequal("", ""));
  EXPECT_FALSE(ascii_iequal("q4_k_m", "q4_k_s"));
  EXPECT_FALSE(ascii_iequal("q4_k", "q4_k_m"));  // a prefix is not equal
  EXPECT_FALSE(ascii_iequal("@", "`"));          // 0x40 and 0x60: not a case pair
  EXPECT_FALSE(ascii_iequal("[", "{"));          // 0x5B and 0x7B: neither
}

}  // namespace
}  // namespace edgefit
