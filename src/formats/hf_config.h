// Hugging Face model folders: config.json → ArchConfig, and HF tensor names → GGUF names.
#pragma once

#include <optional>
#include <string>

#include "formats/model.h"

namespace edgefit {

// Parses config.json text (`file` is for error messages). Supports model_type llama, mistral,
// qwen2, qwen3; anything else is a one-line Error naming it and the supported ones.
ArchConfig parse_hf_config(const std::string& json_text, const std::string& file);

// Maps an HF tensor name ("model.layers.3.self_attn.q_proj.weight") to its GGUF name
// ("blk.3.attn_q.weight"); nullopt for names with no GGUF counterpart (e.g. rotary inv_freq).
std::optional<std::string> hf_to_gguf_name(const std::string& hf_name);
// The inverse, for writing HF folders.
std::optional<std::string> gguf_to_hf_name(const std::string& gguf_name);

}  // namespace edgefit
