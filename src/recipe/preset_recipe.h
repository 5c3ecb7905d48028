// Presets as recipes: a llama.cpp preset ("q4_k_m") is the recipe whose base is that preset, with
// no rules of its own, rounded to nearest (or with an imatrix, when the caller has one).
#pragma once

#include <string_view>

#include "recipe/recipe.h"

namespace edgefit {

// The recipe of preset `name` (case-insensitive). Throws UsageError for an unknown preset.
Recipe recipe_from_preset(std::string_view name, std::string_view method = "rtn");

}  // namespace edgefit
