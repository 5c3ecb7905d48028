// The risk warnings about a chosen recipe (plan/risk_warnings.h).
#include "plan/risk_warnings.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace edgefit {
namespace {

// q4_k_m on six blocks (attn_q at 4.8 bits, ffn_down at 5.8, norms in F32) against a baseline
// with perplexity 100 in four languages, under a 5 % bound.
ChosenRecipeRisk sample_risk() {
  ChosenRecipeRisk r;
  r.recipe = "q4_k_m";
  for (int l = 0; l < 6; ++l) {
    for (const char* k : {"attn_q", "ffn_down"})
      r.tensor_bits.emplace_back("blk." + std::to_string(l) + "." + k + ".weight",
                                 4.8 + (k[0] == 'f' ? 1 : 0));
    r.tensor_bits.emplace_back("blk." + std::to_string(l) + ".attn_norm.weight", 32.0);
  }
  for (const char* lang : {"deu", "eng-US", "jpn", "tha"}) {
    r.baseline_ppl[lang] = 100;
    r.ppl[lang] = 100 + (lang[0] == 't' ? 9.0 : 2.0) / 2;
  }
  r.max_ppl_increase_pct = 5;
  return r;
}

TEST(RecipeWarnings, LanguagesThatImprovedAreNeverListedAsDegrading) {
  ChosenRecipeRisk ch = sample_risk();
  ch.ppl["deu"] = 97;     // −3 %: improved
  ch.ppl["eng-US"] = 99;  // −1 %: improved
  ch.ppl["jpn"] = 100.5;  // +0.5 %
  ch.ppl["tha"] = 104.5;  // +4.5 %
  std::vector<std::string> w = recipe_risk_warnings(ch);
  const auto summary = std::find_if(w.begin(), w.end(), [](const std::string& s) {
    return s.rfind("languages that degrade most", 0) == 0;
  });
  ASSERT_NE(summary, w.end());
  EXPECT_EQ(*summary, "languages that degrade most with q4_k_m: tha +4.50 %, jpn +0.50 %");
  // tha is an outlier (≥ 1 % and over twice the mean); jpn's +0.5 % is noise, not singled out.
  EXPECT_EQ(std::count_if(w.begin(), w.end(),
                          [](const std::string& s) { return s.rfind("language ", 0) == 0; }),
            1);
  EXPECT_NE(std::find(w.begin(), w.end(),
                      "language tha degrades most: ΔPPL +4.50 % (more than twice the mean; mean "
                      "over languages +0.25 %)"),
            w.end());
  // Every language improved: nothing to name.
  for (auto& [lang, ppl] : ch.ppl) ppl = 99;
  w = recipe_risk_warnings(ch);
  for (const auto& s : w) EXPECT_EQ(s.find("degrade"), std::string::npos) << s;
}

TEST(RecipeWarnings, TensorsBelowFourBitsAreNamedButNormsAreNot) {
  ChosenRecipeRisk ch = sample_risk();
  for (const auto& s : recipe_risk_warnings(ch)) EXPECT_EQ(s.find("below 4 bits"), s.npos) << s;
  ch.recipe = "q2_k";
  for (auto& [name, bits] : ch.tensor_bits)
    if (name.find("attn_q") != std::string::npos) bits = 2.6;
  const std::vector<std::string> w = recipe_risk_warnings(ch);
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w.front(),
            "q2_k stores 6 tensors below 4 bits per weight (e.g. blk.0.attn_q.weight): expect "
            "quality loss, most in the languages the model knows least");
}

}  // namespace
}  // namespace edgefit
