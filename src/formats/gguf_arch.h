// ArchConfig ↔ GGUF metadata ("llama.block_count", "llama.attention.head_count", …).
#pragma once

#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/model.h"

namespace edgefit {

// Reads the hyperparameters of a GGUF model; Error for an unsupported architecture or missing key.
ArchConfig arch_config_from_gguf(const GgufFile& f);

// The GGUF architecture name llama.cpp expects for a config ("mistral" is written as "llama").
std::string gguf_arch_name(const ArchConfig& c);

// The hyperparameter keys llama.cpp reads for this architecture (general.architecture first).
std::vector<GgufKV> arch_config_to_gguf(const ArchConfig& c);

}  // namespace edgefit
