// The W8A8 safetensors export (SmoothQuant's `--safetensors-out`): every tensor of a W8A8 plan
// under its Hugging Face name, in compressed-tensors-like naming — I8 weights with an F32
// "<weight>_scale" per output channel ([rows, 1]), the other tensors as the plan types them —
// and attn_q/attn_k rows in HF's rotate-half order. Streams one tensor at a time; the file
// appears whole or not at all.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "formats/model.h"
#include "methods/quantize_model.h"

namespace edgefit {

// The bytes a method produced for a planned tensor (in the plan's type, rows in the model's own
// q/k layout), or nullopt when it did not produce it: then the tensor is converted from `model`.
using ProducedTensorBytes =
    std::function<std::optional<std::vector<uint8_t>>(const std::string& name)>;

// Writes `plan` (smoothquant_adapt_plan()'s W8A8 form) to `path` as safetensors. Throws Error
// for a tensor without a Hugging Face name, or on I/O failure.
void write_w8a8_safetensors(const Model& model, const QuantizePlan& plan,
                            const ProducedTensorBytes& produced, const std::string& path);

}  // namespace edgefit
