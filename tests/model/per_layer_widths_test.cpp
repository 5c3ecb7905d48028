// Per-layer widths in the forward pass (formats/model.h's ArchConfig::heads(l) …), on stories260K
// rewritten as llama.cpp `deci` GGUFs:
// - the same widths in every layer, written as deci arrays, load as the uniform model and give
//   bit-identical logits;
// - an attention-free layer (head_count[l] = 0 and no attention tensors, llama.cpp's deci
//   convention) gives the logits of the original with that layer's attn_output zeroed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/model.h"
#include "model/transformer.h"
#include "test_data.h"

namespace edgefit {
namespace {

const std::string kGguf = "models/stories260K/gguf/stories260K-f32.gguf";

std::vector<float> logits(const std::string& path, const std::vector<int32_t>& t) {
  const Model m = load_model(path);
  Transformer tr(m);
  KVCache cache = tr.make_cache(static_cast<int64_t>(t.size()));
  return tr.forward(t, cache);
}

std::vector<int32_t> tokens() {
  std::mt19937 rng(1);
  std::vector<int32_t> t = {1};
  while (t.size() < 40) t.push_back(static_cast<int32_t>(3 + rng() % 500));
  return t;
}

// Writes `src` as a deci GGUF with per-layer heads, KV heads and FFN widths; tensors named in
// `drop` are left out and those in `zero` written as zeros.
void write_deci(const GgufFile& src, const std::string& out, const std::vector<int32_t>& heads,
                const std::vector<int32_t>& kv, const std::vector<int32_t>& ff,
                const std::vector<std::string>& drop, const std::vector<std::string>& zero,
                std::vector<std::vector<uint8_t>>& zeros, bool deci = true) {
  GgufWriter w;
  for (const GgufKV& kv_ : src.kvs()) {
    std::string key = kv_.key;
    if (deci && key.rfind("llama.", 0) == 0) key = "deci." + key.substr(6);
    GgufValue v = kv_.value;
    if (key == "general.architecture" && deci) v = GgufValue::make_string("deci");
    if (deci && key == "deci.attention.head_count") v = GgufValue::make_i32_array(heads);
    if (deci && key == "deci.attention.head_count_kv") v = GgufValue::make_i32_array(kv);
    if (deci && key == "deci.feed_forward_length") v = GgufValue::make_i32_array(ff);
    w.set(key, v);
  }
  for (const GgufTensorInfo& t : src.tensors()) {
    if (std::find(drop.begin(), drop.end(), t.name) != drop.end()) continue;
    const void* data = src.tensor_data(t);
    if (std::find(zero.begin(), zero.end(), t.name) != zero.end()) {
      zeros.emplace_back(t.nbytes, 0);
      data = zeros.back().data();
    }
    w.add_tensor(t.name, t.type, t.ne, data);
  }
  w.write(out);
}

TEST(PerLayerWidths, UniformDeciArraysGiveTheUniformModel) {
  const std::string dir = test::scratch_dir("per-layer-uniform");
  const GgufFile src(test::shared_path(kGguf));
  std::vector<std::vector<uint8_t>> zeros;
  write_deci(src, dir + "/deci.gguf", std::vector<int32_t>(5, 8), std::vector<int32_t>(5, 4),
             std::vector<int32_t>(5, 172), {}, {}, zeros);
  const Model m = load_model(dir + "/deci.gguf");
  EXPECT_TRUE(m.config.uniform_widths());
  EXPECT_TRUE(m.config.layer_n_heads.empty());
  EXPECT_TRUE(m.config.rope_interleaved);
  EXPECT_EQ(logits(dir + "/deci.gguf", tokens()), logits(test::shared_path(kGguf), tokens()));
}

TEST(PerLayerWidths, AttentionFreeLayerPassesTheResidualOn) {
  const std::string dir = test::scratch_dir("per-layer-attention-free");
  const GgufFile src(test::shared_path(kGguf));
  std::vector<std::vector<uint8_t>> zeros;
  const std::vector<std::string> attn = {"blk.2.attn_norm.weight", "blk.2.attn_q.weight",
                                         "blk.2.attn_k.weight", "blk.2.attn_v.weight",
                                         "blk.2.attn_output.weight"};
  write_deci(src, dir + "/free.gguf", {8, 8, 0, 8, 8}, {4, 4, 0, 4, 4},
             std::vector<int32_t>(5, 172), attn, {}, zeros);
  write_deci(src, dir + "/zero.gguf", {}, {}, {}, {}, {"blk.2.attn_output.weight"}, zeros,
             /*deci=*/false);
  const Model m = load_model(dir + "/free.gguf");
  EXPECT_EQ(m.config.heads(2), 0);
  EXPECT_EQ(m.config.heads(1), 8);
  const auto a = logits(dir + "/free.gguf", tokens()), b = logits(dir + "/zero.gguf", tokens());
  ASSERT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  EXPECT_LT(d, 1e-4);
  EXPECT_NE(a, logits(test::shared_path(kGguf), tokens()));
}

TEST(PerLayerWidths, LinearAttentionLayersAreRefusedByName) {
  const std::string dir = test::scratch_dir("per-layer-linear");
  const GgufFile src(test::shared_path(kGguf));
  std::vector<std::vector<uint8_t>> zeros;
  write_deci(src, dir + "/lin.gguf", {8, 8, 8, 8, 8}, {4, 0, 4, 4, 4}, std::vector<int32_t>(5, 172),
             {}, {}, zeros);
  try {
    load_model(dir + "/lin.gguf");
    ADD_FAILURE() << "loaded a linear-attention layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deci.attention.head_count_kv'[1] is 0"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace edgefit
