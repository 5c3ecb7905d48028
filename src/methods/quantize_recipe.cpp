#include "methods/quantize_recipe.h"

#include "core/error.h"

namespace edgefit {

QuantizeOptions quantize_options_from_recipe(const Recipe& recipe, const std::string& file,
                                             bool lora_applied_after) {
  for (size_t i = 0; i < recipe.recovery.size(); ++i) {
    const std::string& kind = recipe.recovery[i].kind;
    if (kind == "lora" && lora_applied_after) continue;
    throw Error("recovery[" + std::to_string(i) + "].kind: training steps (" + kind + ") are " +
                    (kind == "lora" ? "not run by this command" : "not implemented yet") +
                    "; remove them to quantize",
                file);
  }
  QuantizeOptions o;
  o.preset = recipe.base;
  o.pure = recipe.pure;
  for (size_t i = 0; i < recipe.rules.size(); ++i) {
    const TensorRule& rule = recipe.rules[i];
    const std::string field = "rules[" + std::to_string(i) + "]";
    if (rule.sparsity.kind != SparsityKind::kNone)
      throw Error(field + ".sparsity: pruning is not implemented yet", file);
    if (rule.packing != "default")
      throw Error(field + ".packing: only 'default' (the runtime's load-time packing) exists yet",
                  file);
    if (rule.method && rule.method->name != recipe.method.name)
      throw Error(field + ".method: a per-tensor method other than the recipe's ('" +
                      recipe.method.name + "') is not supported yet",
                  file);
    if (!rule.format) continue;  // a rule with nothing the quantizer stores differently
    TensorTypeOverride ov;
    ov.pattern = rule.match;
    ov.re = std::regex(rule.match, std::regex::ECMAScript);  // checked when the recipe was read
    ov.type = *rule.format;
    ov.layer_first = rule.layer_first.value_or(-1);
    ov.layer_last = rule.layer_last.value_or(-1);
    ov.source = "recipe " + field;
    o.rules.push_back(std::move(ov));
  }
  return o;
}

}  // namespace edgefit
