// The seven linear weights of a Llama-family block, by GGUF name: the one list below every room
// that walks them (the forward pass's activation observer, the calibration methods, pruning).
// Header-only: plain name arithmetic.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace edgefit {

// The block's linear weights as GGUF name suffixes after "blk.N.", in the forward pass's (and
// the activation observer's) order q, k, v, o, gate, up, down.
inline constexpr std::array<std::string_view, 7> kBlockLinearSuffixes = {
    "attn_q.weight",   "attn_k.weight", "attn_v.weight",  "attn_output.weight",
    "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"};

// GGUF names of block `layer`'s seven linear weights, in the order of kBlockLinearSuffixes.
inline std::array<std::string, 7> block_linear_names(int layer) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  std::array<std::string, 7> names;
  for (size_t i = 0; i < names.size(); ++i) names[i] = p + std::string(kBlockLinearSuffixes[i]);
  return names;
}

// Whether `name` is one of the linear weights of some block ("blk.N.<suffix>").
inline bool is_block_linear_weight(std::string_view name) {
  if (!name.starts_with("blk.")) return false;
  for (std::string_view s : kBlockLinearSuffixes)
    if (name.size() > s.size() && name.ends_with(s) && name[name.size() - s.size() - 1] == '.')
      return true;
  return false;
}

}  // namespace edgefit
