// ASCII case folding for the names users type and files carry (quant types, presets, recipe
// fields, KV cache types, folder names): one helper instead of a tolower loop per file. Only A-Z
// change; every other byte (digits, '_', UTF-8) is kept, whatever the C library's locale says.
#pragma once

#include <string>
#include <string_view>

namespace edgefit {

// s with A-Z mapped to a-z.
std::string ascii_lower(std::string_view s);

// Whether a and b are equal once both are ascii_lower'ed (without building either).
bool ascii_iequal(std::string_view a, std::string_view b);

}  // namespace edgefit
