// The consistency check at load (formats/model_check.h): every shipped model passes, and each
// kind of inconsistency is one Error naming the tensor or field. Variants are made from the real
// stories260K model (HF folder and GGUF) with one thing changed.
#include "formats/model_check.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/model.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kHf = "models/stories260K/hf";

// A copy of the stories260K HF folder with config.json and the safetensors header edited.
std::string hf_variant(const std::string& name, const std::function<void(json&)>& edit_config,
                       const std::function<void(json&)>& edit_header = {}) {
  static const std::string root = test::scratch_dir("model-check");
  const std::string dir = root + "/" + name;
  fs::create_directories(dir);
  json cfg = json::parse(read_file(test::shared_path(kHf + "/config.json")));
  edit_config(cfg);
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  // safetensors: u64 header length, JSON header, data (offsets relative to the data start).
  const std::string st = read_file(test::shared_path(kHf + "/model.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, st.data(), 8);
  json header = json::parse(st.substr(8, n));
  if (edit_header) edit_header(header);
  const std::string h = header.dump();
  const uint64_t hn = h.size();
  std::ofstream out(dir + "/model.safetensors", std::ios::binary);
  out.write(reinterpret_cast<const char*>(&hn), 8);
  out << h;
  out.write(st.data() + 8 + n, static_cast<std::streamsize>(st.size() - 8 - n));
  return dir;
}

// Expects load_model to fail with an Error containing every string of `parts`.
void expect_load_error(const std::string& path, const std::vector<std::string>& parts) {
  try {
    load_model(path);
    ADD_FAILURE() << "loaded an inconsistent model; expected: " << parts.front();
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST(ModelCheck, EverySharedModelPasses) {
  for (const char* p : {"models/stories260K/hf", "models/stories260K/gguf/stories260K-f32.gguf",
                        "models/stories260K/gguf/stories260K-f16.gguf",
                        "models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf",
                        "models/stories260K/llama2c/stories260K.bin", "models/polyglot/hf"})
    EXPECT_NO_THROW(load_model(test::shared_path(p))) << p;
  const fs::path gguf = test::shared_path("models/polyglot/gguf");
  for (const auto& e : fs::directory_iterator(gguf))
    if (e.path().extension() == ".gguf") {
      EXPECT_NO_THROW(load_model(e.path().string())) << e.path();
    }
  // The random-weight llama / qwen2 / qwen3 reference models, every GGUF and HF folder.
  for (const auto& m : fs::directory_iterator(test::shared_path("ref/models"))) {
    if (!m.is_directory()) continue;
    if (fs::exists(m.path() / "hf")) {
      EXPECT_NO_THROW(load_model((m.path() / "hf").string())) << m.path();
    }
    for (const auto& e : fs::directory_iterator(m.path() / "gguf"))
      EXPECT_NO_THROW(load_model(e.path().string())) << e.path();
  }
}

TEST(ModelCheck, TransposedGateProjIsRefused) {
  const auto dir = hf_variant(
      "transposed", [](json&) {},
      [](json& h) {
        h["model.layers.2.mlp.gate_proj.weight"]["shape"] = {64, 172};  // stored [172, 64]
      });
  expect_load_error(dir, {"blk.2.ffn_gate.weight", "[64, 172]", "expected [172, 64]"});
}

TEST(ModelCheck, MissingTensorIsRefused) {
  const auto dir = hf_variant(
      "missing", [](json&) {},
      [](json& h) {
        h["model.layers.1.self_attn.v_proj.weightX"] = h["model.layers.1.self_attn.v_proj.weight"];
        h.erase("model.layers.1.self_attn.v_proj.weight");
      });
  expect_load_error(dir, {"no tensor 'blk.1.attn_v.weight'"});
}

TEST(ModelCheck, MoreLayersInConfigThanInFile) {
  expect_load_error(hf_variant("seven", [](json& c) { c["num_hidden_layers"] = 7; }),
                    {"no tensor 'blk.5."});
}

TEST(ModelCheck, FewerLayersInConfigThanInFile) {
  expect_load_error(hf_variant("four", [](json& c) { c["num_hidden_layers"] = 4; }),
                    {"blk.4.", "num_hidden_layers", "is 4"});
}

TEST(ModelCheck, EmbeddingOfTheWrongShapeAndVocabMismatch) {
  expect_load_error(hf_variant("vocab", [](json& c) { c["vocab_size"] = 600; }),
                    {"token_embd.weight", "expected [600, 64]"});
  const auto dir = hf_variant(
      "embd", [](json&) {},
      [](json& h) {
        h["model.embed_tokens.weight"]["shape"] = {256, 128};  // same bytes, wrong shape
      });
  expect_load_error(dir, {"token_embd.weight", "[256, 128]", "expected [512, 64]"});
}

TEST(ModelCheck, ConfigValuesOutOfRangeNameTheField) {
  struct Case {
    const char* key;
    json value;
    const char* expect;
  };
  const Case cases[] = {
      {"hidden_size", 0, "'hidden_size' is 0"},
      {"intermediate_size", 0, "'intermediate_size' is 0"},
      {"max_position_embeddings", 0, "'max_position_embeddings' is 0"},
      {"rms_norm_eps", 0.0, "'rms_norm_eps'"},
      {"rms_norm_eps", -1e-5, "'rms_norm_eps'"},
      {"rope_theta", 0.0, "'rope_theta'"},
      {"rope_theta", -10000.0, "'rope_theta'"},
      {"hidden_act", "gelu", "'hidden_act'"},
      {"head_dim", 7, "'head_dim' is 7"},
  };
  int k = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    const auto dir = hf_variant("cfg" + std::to_string(k++), [&](json& j) { j[c.key] = c.value; });
    expect_load_error(dir, {c.expect, "config.json"});
  }
  // Heads must divide the hidden size when head_dim is not given.
  const auto dir = hf_variant("heads", [](json& j) {
    j.erase("head_dim");
    j["num_attention_heads"] = 6;
    j["num_key_value_heads"] = 3;
  });
  expect_load_error(dir, {"'hidden_size'", "'num_attention_heads'"});
}

// A GGUF copy of stories260K with one metadata value replaced.
std::string gguf_variant(const std::string& name, const std::string& key, GgufValue value) {
  static const std::string root = test::scratch_dir("model-check-gguf");
  const GgufFile f(test::shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  GgufWriter w;
  for (const auto& kv : f.kvs()) w.set(kv.key, kv.value);
  w.set(key, std::move(value));
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.ne, f.tensor_data(t));
  const std::string path = root + "/" + name + ".gguf";
  w.write(path);
  return path;
}

TEST(ModelCheck, GgufMetadataNamesTheKey) {
  expect_load_error(gguf_variant("layers", "llama.block_count", GgufValue::make_u32(7)),
                    {"no tensor 'blk.5."});
  expect_load_error(
      gguf_variant("eps", "llama.attention.layer_norm_rms_epsilon", GgufValue::make_f32(0.f)),
      {"'llama.attention.layer_norm_rms_epsilon'"});
  expect_load_error(gguf_variant("theta", "llama.rope.freq_base", GgufValue::make_f32(-1.f)),
                    {"'llama.rope.freq_base'"});
  expect_load_error(gguf_variant("ctx", "llama.context_length", GgufValue::make_u32(0)),
                    {"'llama.context_length' is 0"});
  expect_load_error(gguf_variant("vocab", "llama.vocab_size", GgufValue::make_u32(513)),
                    {"'llama.vocab_size' is 513", "512 rows"});
}

TEST(ModelCheck, ForwardPassCheckNamesTheField) {
  ArchConfig c;
  c.architecture = "llama";
  c.n_layers = 2;
  c.d_model = 64;
  c.n_heads = 8;
  c.n_kv_heads = 3;
  c.head_dim = 8;
  c.d_ff = 128;
  c.vocab_size = 10;
  c.max_context = 16;
  try {
    check_arch_config(c, "gguf", "m.gguf");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'llama.attention.head_count_kv'"), std::string::npos)
        << e.what();
  }
  c.n_kv_heads = 4;
  c.rms_eps = std::nanf("");
  EXPECT_THROW(check_arch_config(c, "safetensors", "config.json"), Error);
  c.rms_eps = 1e-5f;
  EXPECT_NO_THROW(check_arch_config(c, "safetensors", "config.json"));
}

}  // namespace
}  // namespace edgefit
