// Hugging Face model folders: config.json → ArchConfig, and HF tensor names → GGUF names.
#pragma once

#include <optional>
#include <string>

#include "formats/model.h"

namespace edgefit {

// Per-layer widths (ArchConfig::layer_n_heads …) in config.json: edgefit writes three lists of
// num_hidden_layers integers beside the usual scalars, which then hold the largest entry. No
// Hugging Face llama class reads them (DeciLM's `block_configs` express FFN widths as rounded
// multipliers, which cannot hold an arbitrary width), so transformers refuses such a folder by the
// tensor shapes rather than running it wrong; edgefit reads and writes it exactly.
inline constexpr const char* kLayerHeadsKey = "layer_num_attention_heads";
inline constexpr const char* kLayerKvHeadsKey = "layer_num_key_value_heads";
inline constexpr const char* kLayerFfnKey = "layer_intermediate_size";

// Parses config.json text (`file` is for error messages). Supports model_type llama, mistral,
// qwen2, qwen3; anything else is a one-line Error naming it and the supported ones.
ArchConfig parse_hf_config(const std::string& json_text, const std::string& file);

// config.json for `c`: `base_json` (the source model's config.json, may be empty) with the sizes
// replaced by c's and the per-layer lists set (non-uniform) or removed (uniform).
std::string arch_config_to_hf_json(const ArchConfig& c, const std::string& base_json);

// Maps an HF tensor name ("model.layers.3.self_attn.q_proj.weight") to its GGUF name
// ("blk.3.attn_q.weight"); nullopt for names with no GGUF counterpart (e.g. rotary inv_freq).
std::optional<std::string> hf_to_gguf_name(const std::string& hf_name);
// The inverse, for writing HF folders.
std::optional<std::string> gguf_to_hf_name(const std::string& gguf_name);

}  // namespace edgefit
