// What the user must know about the chosen recipe, beyond the choice itself: tensors stored below
// 4 bits, and the languages it hurts most. Only languages whose perplexity actually rose are named
// as degrading (a quantized model is sometimes slightly better on a language; calling that a
// degradation would send the reader after the wrong language), and a language is singled out as
// an outlier only when its loss is noticeable (≥ 1 % ΔPPL) as well as over twice the mean.
// A planning decision (plan/): report/ only renders the sentences.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace edgefit {

// The chosen recipe as the risk check sees it.
struct ChosenRecipeRisk {
  std::string recipe;                                       // its name, as sentences say it
  std::vector<std::pair<std::string, double>> tensor_bits;  // per tensor: name → bits per weight
  std::map<std::string, double> ppl;                        // per language: its perplexity
  std::map<std::string, double> baseline_ppl;  // per language: the full-precision model's
  double max_ppl_increase_pct = 0;             // the quality bound (ΔPPL in percent)
};

// Warnings about `chosen`, one sentence each.
std::vector<std::string> recipe_risk_warnings(const ChosenRecipeRisk& chosen);

}  // namespace edgefit
