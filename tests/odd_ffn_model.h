// A one-block Llama (tiny-llama's shapes and tokenizer) whose FFN is 130 wide, written as a
// Hugging Face folder: ffn_down's rows have 130 inputs, not whole groups of 4 (or any K-quant
// block), for the tests of patterns that need whole groups.
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "formats/safetensors.h"
#include "test_data.h"

namespace edgefit::test {

// Writes the model into `dir` (created) and returns `dir`.
inline std::string odd_ffn_model(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string src = shared_path("ref/models/tiny-llama/hf");
  fs::create_directories(dir);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(src + "/" + f, dir + "/" + f, fs::copy_options::overwrite_existing);
  std::ifstream in(src + "/config.json");
  nlohmann::json cfg = nlohmann::json::parse(in);
  cfg["intermediate_size"] = 130;
  cfg["num_hidden_layers"] = 1;
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  const int64_t d = 128, ff = 130, vocab = 512, kv = 64;
  std::vector<SafetensorsTensorSpec> specs;
  auto add = [&specs](const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t e : shape) n *= e;
    specs.push_back({name, DType::F32, shape, [n](AtomicFileWriter& w) {
                       std::vector<float> x(static_cast<size_t>(n));
                       for (int64_t i = 0; i < n; ++i)
                         x[static_cast<size_t>(i)] =
                             0.02f * std::sin(0.37f * static_cast<float>(i));
                       w.write(x.data(), x.size() * sizeof(float));
                     }});
  };
  add("model.embed_tokens.weight", {vocab, d});
  add("model.layers.0.input_layernorm.weight", {d});
  add("model.layers.0.self_attn.q_proj.weight", {d, d});
  add("model.layers.0.self_attn.k_proj.weight", {kv, d});
  add("model.layers.0.self_attn.v_proj.weight", {kv, d});
  add("model.layers.0.self_attn.o_proj.weight", {d, d});
  add("model.layers.0.post_attention_layernorm.weight", {d});
  add("model.layers.0.mlp.gate_proj.weight", {ff, d});
  add("model.layers.0.mlp.up_proj.weight", {ff, d});
  add("model.layers.0.mlp.down_proj.weight", {d, ff});
  add("model.norm.weight", {d});
  add("lm_head.weight", {vocab, d});
  write_safetensors(dir + "/model.safetensors", specs);
  return dir;
}

}  // namespace edgefit::test
