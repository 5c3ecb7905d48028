#include "plan/risk_warnings.h"

#include <algorithm>
#include <cstdio>

namespace edgefit {
namespace {

// A language is singled out as "more than twice the mean" only from this ΔPPL on: below it the
// differences are evaluation noise (q8_0 moves languages by hundredths of a percent).
constexpr double kNoticeableDpplPct = 1.0;

// ΔPPL in percent per language of the chosen recipe, worst first.
std::vector<std::pair<double, std::string>> ranked_dppl(const ChosenRecipeRisk& c) {
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [lang, ppl] : c.ppl) {
    const auto base = c.baseline_ppl.find(lang);
    if (base == c.baseline_ppl.end() || !(base->second > 0)) continue;
    ranked.emplace_back(100.0 * (ppl / base->second - 1), lang);
  }
  std::sort(ranked.rbegin(), ranked.rend());
  return ranked;
}

}  // namespace

std::vector<std::string> recipe_risk_warnings(const ChosenRecipeRisk& ch) {
  std::vector<std::string> out;
  std::vector<std::string> low;
  for (const auto& [name, bits] : ch.tensor_bits)
    if (bits < 4.0 && name.find("norm") == std::string::npos) low.push_back(name);
  if (!low.empty()) {
    char buf[200];
    std::snprintf(
        buf, sizeof buf,
        "%s stores %zu tensors below 4 bits per weight (e.g. %s): expect quality loss, most in the "
        "languages the model knows least",
        ch.recipe.c_str(), low.size(), low.front().c_str());
    out.push_back(buf);
  }
  const auto ranked = ranked_dppl(ch);
  double mean = 0;
  for (const auto& [d, lang] : ranked) mean += d;
  mean /= std::max<size_t>(1, ranked.size());
  // Name the (up to) three languages hurt most, so the multilingual risk is visible even when
  // every language is within the bound; languages that improved are not "degrading".
  if (ranked.size() > 1) {
    std::string names;
    for (size_t k = 0; k < std::min<size_t>(3, ranked.size()) && ranked[k].first > 0; ++k) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%s %+.2f %%", k ? ", " : "", ranked[k].second.c_str(),
                    ranked[k].first);
      names += buf;
    }
    if (!names.empty())
      out.push_back("languages that degrade most with " + ch.recipe + ": " + names);
  }
  for (const auto& [d, lang] : ranked) {
    const bool over_bound = d > ch.max_ppl_increase_pct;
    const bool outlier = d >= kNoticeableDpplPct && mean > 0 && d > 2 * mean;
    if (!over_bound && !outlier) continue;
    char buf[200];
    std::snprintf(
        buf, sizeof buf,
        "language %s degrades most: ΔPPL %+.2f %% (%s; mean over languages %+.2f %%)", lang.c_str(),
        d, d > ch.max_ppl_increase_pct ? "over the bound" : "more than twice the mean", mean);
    out.push_back(buf);
  }
  return out;
}

}  // namespace edgefit
