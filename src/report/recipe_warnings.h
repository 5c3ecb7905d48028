// What the user must know about the chosen recipe, beyond the choice itself: tensors stored below
// 4 bits, and the languages it hurts most. Only languages whose perplexity actually rose are named
// as degrading (a quantized model is sometimes slightly better on a language; calling that a
// degradation would send the reader after the wrong language), and a language is singled out as
// an outlier only when its loss is noticeable (≥ 1 % ΔPPL) as well as over twice the mean.
#pragma once

#include <string>
#include <vector>

#include "report/compress_report.h"

namespace edgefit {

// Warnings for r.candidates[r.chosen] against r.baseline_languages and r.max_ppl_increase_pct
// (none when nothing is chosen).
std::vector<std::string> chosen_recipe_warnings(const CompressReport& r);

}  // namespace edgefit
