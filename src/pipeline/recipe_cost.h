// What a recipe costs on a device for a given model, before anything is quantized: the
// per-tensor types it resolves to, turned into file size, memory and speed (plan/cost_model.h).
// Shared by `edgefit plan` (choosing a preset) and `edgefit compress` (its candidates).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "formats/model.h"
#include "plan/cost_model.h"
#include "plan/device_profile.h"
#include "recipe/recipe.h"

namespace edgefit {

struct RecipeCost {
  CostEstimate cost;                                        // size, memory, speed on the device
  std::vector<std::pair<std::string, double>> tensor_bits;  // per tensor: name → bits per weight
};

// Resolves `recipe` against `model` (as the caller loaded it from `model_path`; nothing is read
// again) and estimates its cost on `device` at `context` tokens. `recipe_file` names the recipe
// in errors.
RecipeCost recipe_cost(const Model& model, const std::string& model_path, const Recipe& recipe,
                       const std::string& recipe_file, const DeviceProfile& device, int context);

}  // namespace edgefit
