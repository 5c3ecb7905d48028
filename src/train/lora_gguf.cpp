#include "train/lora_gguf.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/qk_permute.h"

namespace edgefit::train {
namespace {

bool is_lora(const std::string& name) {
  return name.ends_with(".lora_a") || name.ends_with(".lora_b");
}

// True when this B's rows differ between the model's layout and the GGUF's.
bool needs_row_permutation(const std::string& name, const ArchConfig& cfg) {
  const bool qk = name.ends_with(".lora_b") && is_qk_weight(name.substr(0, name.size() - 7));
  return gguf_permutes_qk(cfg.architecture) && !cfg.rope_interleaved && qk;
}

}  // namespace

void write_lora_gguf(const std::string& path, const ParameterSet& adapters, const ArchConfig& cfg,
                     double alpha) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::make_string(cfg.architecture));
  w.set("general.type", GgufValue::make_string("adapter"));
  w.set("adapter.type", GgufValue::make_string("lora"));
  w.set("adapter.lora.alpha", GgufValue::make_f32(static_cast<float>(alpha)));
  // Permuted copies live here until write() returns.
  std::vector<std::vector<float>> permuted;
  permuted.reserve(adapters.all().size());
  for (const Parameter& p : adapters.all()) {
    if (!is_lora(p.name)) continue;
    const float* data = p.value.data();
    if (needs_row_permutation(p.name, cfg)) {
      permuted.emplace_back(p.value.size());
      qk_permute_rows_hf_to_gguf(p.value.data(), permuted.back().data(), p.shape[0],
                                 static_cast<uint64_t>(p.shape[1]) * sizeof(float), cfg.head_dim);
      data = permuted.back().data();
    }
    w.add_tensor(p.name, DType::F32,
                 {static_cast<uint64_t>(p.shape[1]), static_cast<uint64_t>(p.shape[0])}, data);
  }
  w.write(path);
}

double read_lora_gguf(const std::string& path, ParameterSet& adapters, const ArchConfig& cfg) {
  GgufFile f(path);
  if (f.get_string_opt("general.type") != "adapter" || f.get_string_opt("adapter.type") != "lora")
    throw Error("not a LoRA adapter GGUF (general.type / adapter.type)", path);
  if (f.get_string("general.architecture") != cfg.architecture)
    throw Error("adapter is for architecture '" + f.get_string("general.architecture") +
                    "', the model is '" + cfg.architecture + "'",
                path);
  const double alpha = f.get_double("adapter.lora.alpha");
  std::vector<std::pair<Parameter*, std::vector<float>>> loaded;
  size_t n_lora = 0;
  for (Parameter& p : adapters.all()) {
    if (!is_lora(p.name)) continue;
    ++n_lora;
    const GgufTensorInfo* t = f.find_tensor(p.name);
    if (!t) throw Error("adapter has no tensor '" + p.name + "'", path);
    const std::vector<uint64_t> ne = {static_cast<uint64_t>(p.shape[1]),
                                      static_cast<uint64_t>(p.shape[0])};
    if (t->type != DType::F32 || t->ne != ne)
      throw Error("adapter tensor '" + p.name + "' is not F32 of the model's shape", path,
                  t->info_offset);
    std::vector<float> v(p.value.size());
    if (needs_row_permutation(p.name, cfg))
      qk_permute_rows_gguf_to_hf(f.tensor_data(*t), v.data(), p.shape[0],
                                 static_cast<uint64_t>(p.shape[1]) * sizeof(float), cfg.head_dim);
    else
      std::memcpy(v.data(), f.tensor_data(*t), v.size() * sizeof(float));
    loaded.emplace_back(&p, std::move(v));
  }
  if (f.tensors().size() != n_lora)
    throw Error("adapter has " + std::to_string(f.tensors().size()) + " tensors, the model's " +
                    "LoRA targets " + std::to_string(n_lora),
                path);
  for (auto& [p, v] : loaded) p->value = std::move(v);
  return alpha;
}

}  // namespace edgefit::train
