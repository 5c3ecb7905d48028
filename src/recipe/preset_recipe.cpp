#include "recipe/preset_recipe.h"

#include "core/error.h"
#include "quant/presets.h"

namespace edgefit {

Recipe recipe_from_preset(std::string_view name, std::string_view method) {
  const QuantPreset* p = find_quant_preset(name);
  if (!p)
    throw UsageError("unknown preset '" + std::string(name) + "' (known: " + quant_preset_names() +
                     ")");
  Recipe r;
  r.name = std::string(p->name);
  r.base = std::string(p->name);
  r.method.name = std::string(method);
  return r;
}

}  // namespace edgefit
