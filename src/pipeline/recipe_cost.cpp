#include "pipeline/recipe_cost.h"

#include "methods/quantize_recipe.h"

namespace edgefit {

RecipeCost recipe_cost(const Model& model, const std::string& model_path, const Recipe& recipe,
                       const std::string& recipe_file, const DeviceProfile& device, int context) {
  QuantizeOptions qo = quantize_options_from_recipe(recipe, recipe_file, true);
  qo.check_finite = false;  // costing only: the build checks the weights while it plans
  const QuantizePlan plan = plan_quantization(model, model_path, qo);
  RecipeCost out;
  for (const auto& t : plan.tensors)
    out.tensor_bits.emplace_back(t.name, dtype_bits_per_weight(t.to));
  out.cost = estimate_cost(model.config, plan, device, context);
  return out;
}

}  // namespace edgefit
