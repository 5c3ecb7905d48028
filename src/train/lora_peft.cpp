#include "train/lora_peft.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/hf_config.h"
#include "formats/qk_permute.h"
#include "formats/safetensors.h"

namespace edgefit::train {
namespace {

// True when this B's rows differ between the model's layout and Hugging Face's.
bool needs_row_permutation(const std::string& name, const ArchConfig& cfg) {
  const bool qk = name.ends_with(".lora_b") && is_qk_weight(name.substr(0, name.size() - 7));
  return gguf_permutes_qk(cfg.architecture) && cfg.rope_interleaved && qk;
}

}  // namespace

void write_lora_peft(const std::string& folder, const ParameterSet& adapters, const ArchConfig& cfg,
                     const LoraConfig& lora, const std::string& base_name) {
  std::vector<SafetensorsTensorSpec> specs;
  std::vector<std::vector<float>> permuted;  // HF-order copies, alive until the file is written
  permuted.reserve(adapters.all().size());
  std::set<std::string> modules;  // HF module names adapted ("q_proj", …)
  for (const Parameter& p : adapters.all()) {
    const bool is_a = p.name.ends_with(".lora_a"), is_b = p.name.ends_with(".lora_b");
    if (!is_a && !is_b) continue;
    const std::string weight = p.name.substr(0, p.name.size() - 7);  // "blk.0.attn_q.weight"
    const auto hf = gguf_to_hf_name(weight);  // "model.layers.0.self_attn.q_proj.weight"
    if (!hf || !hf->ends_with(".weight"))
      throw Error("no Hugging Face name for adapted weight '" + weight + "'");
    const std::string module = hf->substr(0, hf->size() - 7);
    modules.insert(module.substr(module.rfind('.') + 1));
    const float* data = p.value.data();
    if (needs_row_permutation(p.name, cfg)) {
      permuted.emplace_back(p.value.size());
      qk_permute_rows_gguf_to_hf(p.value.data(), permuted.back().data(), p.shape[0],
                                 static_cast<uint64_t>(p.shape[1]) * sizeof(float), cfg.head_dim);
      data = permuted.back().data();
    }
    const size_t bytes = p.value.size() * sizeof(float);
    specs.push_back({"base_model.model." + module + (is_a ? ".lora_A.weight" : ".lora_B.weight"),
                     DType::F32, p.shape,
                     [data, bytes](AtomicFileWriter& w) { w.write(data, bytes); }});
  }
  std::filesystem::create_directories(folder);
  write_safetensors(folder + "/adapter_model.safetensors", specs, {{"format", "pt"}});
  const nlohmann::json config = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base_name},
      {"r", lora.rank},
      {"lora_alpha", lora.alpha},
      {"lora_dropout", 0.0},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"target_modules", std::vector<std::string>(modules.begin(), modules.end())},
  };
  write_file_atomic(folder + "/adapter_config.json", config.dump(2) + "\n");
}

}  // namespace edgefit::train
