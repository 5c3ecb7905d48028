#include "formats/hf_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "test_data.h"

namespace edgefit {
namespace {

TEST(HfConfig, ParsesThePolyglotConfig) {
  const std::string path = test::shared_path("models/polyglot/hf/config.json");
  const ArchConfig c = parse_hf_config(read_file(path), path);
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_layers, 6);
  EXPECT_EQ(c.d_model, 256);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.d_ff, 768);
  EXPECT_EQ(c.vocab_size, 8192);
  EXPECT_EQ(c.max_context, 256);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_FALSE(c.rope_interleaved);
}

TEST(HfConfig, Qwen3HasIndependentHeadDim) {
  const std::string path = test::shared_path("ref/models/tiny-qwen3/hf/config.json");
  const ArchConfig c = parse_hf_config(read_file(path), path);
  EXPECT_EQ(c.architecture, "qwen3");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.n_heads * c.head_dim, 256);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.tied_embeddings);
}

TEST(HfConfig, Llama3RopeScaling) {
  const ArchConfig c =
      parse_hf_config(R"({"model_type":"llama","num_hidden_layers":2,"hidden_size":64,
      "intermediate_size":128,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100,
      "rope_theta":500000.0,"rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,
      "original_max_position_embeddings":8192,"rope_type":"llama3"},"eos_token_id":[128001,128008]})",
                      "c");
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 32.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position, 8192);
  EXPECT_EQ(c.eos_id, 128001);
}

TEST(HfConfig, UnknownArchitectureIsOneLineNamingItAndTheSupportedOnes) {
  try {
    parse_hf_config(R"({"model_type":"gpt_neox"})", "config.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(
        e.what(),
        "config.json: unknown architecture 'gpt_neox' (supported: llama, mistral, qwen2, qwen3)");
  }
}

TEST(HfConfig, BadFieldsAreNamed) {
  auto msg = [](const std::string& j) {
    try {
      parse_hf_config(j, "c");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(msg("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(msg(R"({"model_type":"llama"})").find("num_hidden_layers"), std::string::npos);
  EXPECT_NE(msg(R"({"model_type":"llama","num_hidden_layers":"6"})")
                .find("num_hidden_layers' is not an integer"),
            std::string::npos);
  EXPECT_NE(
      msg(R"({"model_type":"qwen2","num_hidden_layers":1,"hidden_size":8,"intermediate_size":8,
                   "num_attention_heads":3,"num_key_value_heads":2,"vocab_size":4})")
          .find("multiple"),
      std::string::npos);
}

TEST(HfNames, MapBothWays) {
  EXPECT_EQ(*hf_to_gguf_name("model.layers.12.self_attn.q_proj.weight"), "blk.12.attn_q.weight");
  EXPECT_EQ(*hf_to_gguf_name("model.layers.0.mlp.down_proj.weight"), "blk.0.ffn_down.weight");
  EXPECT_EQ(*hf_to_gguf_name("lm_head.weight"), "output.weight");
  EXPECT_FALSE(hf_to_gguf_name("model.layers.0.self_attn.rotary_emb.inv_freq"));
  EXPECT_EQ(*gguf_to_hf_name("blk.3.attn_k_norm.weight"), "model.layers.3.self_attn.k_norm.weight");
}

}  // namespace
}  // namespace edgefit

namespace edgefit {
namespace {

// Per-layer widths in config.json (hf_config.h): edgefit's three lists, all or none, with the
// scalars as their maxima; written back by arch_config_to_hf_json.
const char* kPerLayer = R"({"model_type": "llama", "num_hidden_layers": 3, "hidden_size": 64,
  "intermediate_size": 160, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 8,
  "vocab_size": 512, "layer_num_attention_heads": [8, 4, 8],
  "layer_num_key_value_heads": [4, 2, 4], "layer_intermediate_size": [160, 96, 128]})";

TEST(HfConfigPerLayer, ListsGiveTheWidthsAndRoundTrip) {
  const ArchConfig c = parse_hf_config(kPerLayer, "config.json");
  EXPECT_FALSE(c.uniform_widths());
  EXPECT_EQ(c.heads(1), 4);
  EXPECT_EQ(c.kv_heads(1), 2);
  EXPECT_EQ(c.ff(2), 128);
  const ArchConfig back = parse_hf_config(arch_config_to_hf_json(c, kPerLayer), "config.json");
  EXPECT_EQ(back.layer_d_ff, c.layer_d_ff);
  EXPECT_EQ(back.layer_n_heads, c.layer_n_heads);
  // Uniform widths write no lists.
  ArchConfig u = c;
  u.set_layer_widths({8, 8, 8}, {4, 4, 4}, {160, 160, 160});
  EXPECT_EQ(arch_config_to_hf_json(u, "").find("layer_"), std::string::npos);
}

TEST(HfConfigPerLayer, PartialOrInconsistentListsAreErrors) {
  auto j = nlohmann::json::parse(kPerLayer);
  j.erase("layer_intermediate_size");
  EXPECT_THROW(parse_hf_config(j.dump(), "config.json"), Error);
  j = nlohmann::json::parse(kPerLayer);
  j["intermediate_size"] = 200;  // not the largest entry
  EXPECT_THROW(parse_hf_config(j.dump(), "config.json"), Error);
  j = nlohmann::json::parse(kPerLayer);
  j["layer_num_attention_heads"] = {8, 4};  // two entries for three layers
  try {
    parse_hf_config(j.dump(), "config.json");
    ADD_FAILURE() << "accepted a short list";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'layer_num_attention_heads' is not a list of 3"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace edgefit
