// A Recipe applied by quantize_model(): its base preset, `pure`, its per-tensor format rules and
// its unstructured / N:M sparsity rules (QuantizeOptions::sparsity, carried out by the pruning
// methods of compress/) become QuantizeOptions. What cannot be carried out yet (structured
// keep-lists, packing other than the default, recovery steps, per-rule methods that differ from
// the recipe's) is refused with an Error naming the field, never silently dropped.
#pragma once

#include <string>

#include "methods/quantize_model.h"
#include "recipe/recipe.h"

namespace edgefit {

// Options for quantize_model() / quantize_model_calibrated(); `file` names the recipe in errors.
// The imatrix, provenance, progress and method fields are left at their defaults for the caller.
// `lora_applied_after`: the caller runs the recipe's lora recovery steps on the quantized file
// (pipeline/recover_step.h), so they are not refused here; qat and distill steps still are.
QuantizeOptions quantize_options_from_recipe(const Recipe& recipe, const std::string& file,
                                             bool lora_applied_after = false);

}  // namespace edgefit
