// The context (window) length a command uses when the user gives none, and the warning when the
// user asks for more than the model was trained on. llama.cpp's tools default to 512 tokens; on a
// model trained on fewer positions such a window leaves the trained range and the numbers stop
// meaning what they should (polyglot, trained on 256: PPL 141.7 at 512 instead of 133.2), so the
// default is min(512, trained context). An explicit longer window still runs, with a warning, as
// llama-perplexity does.
#pragma once

#include <optional>
#include <string>

namespace edgefit {

// llama.cpp's default window (llama-perplexity, llama-imatrix).
constexpr int kDefaultContext = 512;

// min(512, trained_context); 512 when the trained context is unknown (<= 0).
int default_context(int trained_context);

// `requested` when positive, else default_context(trained_context).
int resolve_context(int requested, int trained_context);

// The warning for a window beyond the trained context, e.g. "--ctx 512 exceeds the model's
// trained context of 256 tokens; results beyond it are not what the model learned" (no prefix);
// nothing when the window fits or the trained context is unknown.
std::optional<std::string> context_warning(int context, int trained_context,
                                           const std::string& option);

}  // namespace edgefit
