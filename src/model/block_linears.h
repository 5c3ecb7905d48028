// The seven linear weights of a Llama-family block, by GGUF name: the one list below every room
// that walks them (the forward pass's activation observer, the calibration methods, pruning,
// synthetic models, training's blocks and LoRA targets).
// Header-only: plain name arithmetic.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace edgefit {

// One of a block's linear layers under the names each room calls it by.
struct BlockLinear {
  std::string_view short_name;  // LoRA target / recipe name: q, k, v, o, gate, up, down
  std::string_view stem;        // GGUF module after "blk.N.": attn_q, …, ffn_down
  std::string_view weight;      // the weight's GGUF suffix after "blk.N.": stem + ".weight"
};

// The block's linear layers in the forward pass's (and the activation observer's) order q, k, v,
// o, gate, up, down: the one list every room walks.
inline constexpr std::array<BlockLinear, 7> kBlockLinears = {{
    {"q", "attn_q", "attn_q.weight"},
    {"k", "attn_k", "attn_k.weight"},
    {"v", "attn_v", "attn_v.weight"},
    {"o", "attn_output", "attn_output.weight"},
    {"gate", "ffn_gate", "ffn_gate.weight"},
    {"up", "ffn_up", "ffn_up.weight"},
    {"down", "ffn_down", "ffn_down.weight"},
}};
static_assert(
    [] {
      for (const BlockLinear& b : kBlockLinears)
        if (b.weight.substr(0, b.stem.size()) != b.stem ||
            b.weight.substr(b.stem.size()) != ".weight")
          return false;
      return true;
    }(),
    "every weight suffix is its stem + \".weight\"");

// The weights' GGUF name suffixes after "blk.N.", in kBlockLinears order.
inline constexpr std::array<std::string_view, 7> kBlockLinearSuffixes = [] {
  std::array<std::string_view, 7> s;
  for (size_t i = 0; i < s.size(); ++i) s[i] = kBlockLinears[i].weight;
  return s;
}();

// The entry whose short name (q … down) is `short_name`, or nullptr.
inline const BlockLinear* find_block_linear(std::string_view short_name) {
  for (const BlockLinear& b : kBlockLinears)
    if (b.short_name == short_name) return &b;
  return nullptr;
}

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
