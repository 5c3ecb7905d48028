// LoRA adapters as a PEFT folder for Hugging Face users: adapter_model.safetensors with
// "base_model.model.<HF module>.lora_A.weight" {r, n_in} and ".lora_B.weight" {n_out, r} (F32),
// and adapter_config.json (peft_type LORA, r, lora_alpha, target_modules, task_type CAUSAL_LM),
// which PEFT loads with PeftModel.from_pretrained(base, folder).
//
// Rows follow Hugging Face's layout: when the adapters were trained on a llama/mistral GGUF
// (interleaved q/k rows, formats/qk_permute.h), the rows of B for attn_q/attn_k are permuted
// GGUF → HF; A never moves.
#pragma once

#include <string>

#include "formats/model.h"
#include "train/lora.h"
#include "train/parameters.h"

namespace edgefit::train {

// Writes `folder`/adapter_model.safetensors and `folder`/adapter_config.json (each atomically;
// the folder is created). `base_name` goes to base_model_name_or_path.
void write_lora_peft(const std::string& folder, const ParameterSet& adapters, const ArchConfig& cfg,
                     const LoraConfig& lora, const std::string& base_name);

}  // namespace edgefit::train
