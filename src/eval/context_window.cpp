#include "eval/context_window.h"

#include <algorithm>

namespace edgefit {

int default_context(int trained_context) {
  return trained_context > 0 ? std::min(kDefaultContext, trained_context) : kDefaultContext;
}

int resolve_context(int requested, int trained_context) {
  return requested > 0 ? requested : default_context(trained_context);
}

std::optional<std::string> context_warning(int context, int trained_context,
                                           const std::string& option) {
  if (trained_context <= 0 || context <= trained_context) return std::nullopt;
  return option + " " + std::to_string(context) + " exceeds the model's trained context of " +
         std::to_string(trained_context) +
         " tokens; results beyond it are not what the model learned";
}

}  // namespace edgefit
