// LoRA adapters at inference (model/lora_adapter.h): base + adapter gives the logits of the
// merged f32 model W + s·B·A (merged here in double, independently of the code under test), with
// llama.cpp's scale s = user_scale · alpha / r; a zero scale gives the base bit for bit; a model
// held in HF row order gets the q/k rows of B moved (same logits as its GGUF twin); malformed
// adapters are refused with the file named.
#include "model/lora_adapter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/gguf_writer.h"
#include "formats/model.h"
#include "model/transformer.h"
#include "test_data.h"

namespace edgefit {
namespace {

using test::shared_path;

const std::string kF32 = "models/stories260K/gguf/stories260K-f32.gguf";
constexpr int kRank = 3;
constexpr float kAlpha = 5.0f;

// Random factors for every block projection of `m`: name → (A {r, n_in}, B {n_out, r}).
struct Factors {
  std::vector<std::string> names;        // base weight names
  std::vector<std::vector<float>> a, b;  // per name
};

Factors random_factors(const Model& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.2f);
  Factors f;
  for (int l = 0; l < m.config.n_layers; ++l)
    for (const char* s :
         {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
      const std::string name = "blk." + std::to_string(l) + "." + s + ".weight";
      const TensorView& w = m.get(name).view;
      f.names.push_back(name);
      f.a.emplace_back(static_cast<size_t>(kRank * w.shape[1]));
      f.b.emplace_back(static_cast<size_t>(w.shape[0] * kRank));
      for (float& v : f.a.back()) v = dist(rng);
      for (float& v : f.b.back()) v = dist(rng);
    }
  return f;
}

// Writes `f` as a llama.cpp adapter GGUF (lora_a ne = [n_in, r], lora_b ne = [r, n_out]).
void write_adapter(const std::string& path, const Model& m, const Factors& f,
                   const std::string& arch = "llama") {
  GgufWriter w;
  w.set("general.architecture", GgufValue::make_string(arch));
  w.set("general.type", GgufValue::make_string("adapter"));
  w.set("adapter.type", GgufValue::make_string("lora"));
  w.set("adapter.lora.alpha", GgufValue::make_f32(kAlpha));
  for (size_t i = 0; i < f.names.size(); ++i) {
    const TensorView& t = m.get(f.names[i]).view;
    const auto n_out = static_cast<uint64_t>(t.shape[0]), n_in = static_cast<uint64_t>(t.shape[1]);
    w.add_tensor(f.names[i] + ".lora_a", DType::F32, {n_in, kRank}, f.a[i].data());
    w.add_tensor(f.names[i] + ".lora_b", DType::F32, {kRank, n_out}, f.b[i].data());
  }
  w.write(path);
}

std::vector<float> logits(Transformer& tf) {
  const std::vector<int32_t> ids = {1, 403, 407, 261, 378, 299, 288, 380, 281, 313, 274, 318};
  KVCache cache = tf.make_cache(static_cast<int64_t>(ids.size()));
  return tf.forward(ids, cache);
}

double max_abs_diff(const std::vector<float>& x, const std::vector<float>& y) {
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, std::fabs(double{x[i]} - y[i]));
  return d;
}

TEST(LoraAdapter, BasePlusAdapterEqualsMergedF32Model) {
  const Model base = load_model(shared_path(kF32));
  const Factors f = random_factors(base, 7);
  const std::string path = test::scratch_dir("lora-adapter") + "/a.gguf";
  write_adapter(path, base, f);
  const LoraAdapter ad = load_lora_adapter(path, base, 0.5f);
  ASSERT_EQ(ad.weights.size(), f.names.size());
  EXPECT_FLOAT_EQ(ad.weights.at(f.names[0]).scale, 0.5f * kAlpha / kRank);

  // The merged model, in double: W + s·B·A with s = 0.5 · alpha / r.
  Model merged = load_model(shared_path(kF32));
  const double s = 0.5 * kAlpha / kRank;
  std::vector<std::vector<float>> store;
  store.reserve(f.names.size());
  for (size_t i = 0; i < f.names.size(); ++i) {
    ModelTensor& mt = const_cast<ModelTensor&>(merged.get(f.names[i]));
    const int64_t n_out = mt.view.shape[0], n_in = mt.view.shape[1];
    const float* w = reinterpret_cast<const float*>(mt.view.data);
    store.emplace_back(static_cast<size_t>(n_out * n_in));
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t j = 0; j < n_in; ++j) {
        double acc = w[o * n_in + j];
        for (int k = 0; k < kRank; ++k)
          acc += s * f.b[i][static_cast<size_t>(o * kRank + k)] *
                 f.a[i][static_cast<size_t>(k * n_in + j)];
        store.back()[static_cast<size_t>(o * n_in + j)] = static_cast<float>(acc);
      }
    const int64_t shape[2] = {n_out, n_in};
    mt.view = TensorView::contiguous(DType::F32, shape, store.back().data());
  }

  Transformer plain(base), adapted(base), folded(merged);
  adapted.add_lora(ad);
  const std::vector<float> l0 = logits(plain), l1 = logits(adapted), l2 = logits(folded);
  EXPECT_GT(max_abs_diff(l0, l2), 0.1);  // the adapter matters
  EXPECT_LT(max_abs_diff(l1, l2), 2e-4);
}

TEST(LoraAdapter, ZeroScaleGivesTheBaseBitForBit) {
  const Model base = load_model(shared_path(kF32));
  const std::string path = test::scratch_dir("lora-zero") + "/a.gguf";
  write_adapter(path, base, random_factors(base, 3));
  const LoraAdapter ad = load_lora_adapter(path, base, 0.0f);
  Transformer plain(base), adapted(base);
  adapted.add_lora(ad);
  EXPECT_EQ(logits(plain), logits(adapted));
}

TEST(LoraAdapter, HfRowOrderModelGetsPermutedQkRows) {
  const Model gguf = load_model(shared_path(kF32));
  const Model hf = load_model(shared_path("models/stories260K/hf"));
  ASSERT_TRUE(gguf.config.rope_interleaved);
  ASSERT_FALSE(hf.config.rope_interleaved);
  const std::string path = test::scratch_dir("lora-hf") + "/a.gguf";
  write_adapter(path, gguf, random_factors(gguf, 11));
  const LoraAdapter ag = load_lora_adapter(path, gguf, 1.0f),
                    ah = load_lora_adapter(path, hf, 1.0f);
  Transformer tg(gguf), th(hf), plain(hf);
  tg.add_lora(ag);
  th.add_lora(ah);
  const std::vector<float> lg = logits(tg), lh = logits(th);
  EXPECT_GT(max_abs_diff(lh, logits(plain)), 0.1);
  EXPECT_LT(max_abs_diff(lg, lh), 2e-4);
}

TEST(LoraAdapter, RefusesAdaptersThatDoNotFit) {
  const Model base = load_model(shared_path(kF32));
  const std::string dir = test::scratch_dir("lora-bad");
  Factors f = random_factors(base, 5);
  write_adapter(dir + "/arch.gguf", base, f, "qwen2");
  EXPECT_THROW(load_lora_adapter(dir + "/arch.gguf", base, 1.0f), Error);
  // A factor of the wrong width: attn_q's A one column wider than d_model.
  GgufWriter w;
  w.set("general.architecture", GgufValue::make_string("llama"));
  w.set("general.type", GgufValue::make_string("adapter"));
  w.set("adapter.type", GgufValue::make_string("lora"));
  const auto d = static_cast<uint64_t>(base.config.d_model);
  w.add_tensor(f.names[0] + ".lora_a", DType::F32, {d + 1, kRank}, f.a[6].data());
  w.add_tensor(f.names[0] + ".lora_b", DType::F32, {kRank, d}, f.b[0].data());
  w.write(dir + "/shape.gguf");
  try {
    load_lora_adapter(dir + "/shape.gguf", base, 1.0f);
    ADD_FAILURE() << "accepted a misshapen factor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shape.gguf"), std::string::npos) << e.what();
  }
  GgufWriter half;
  half.set("general.architecture", GgufValue::make_string("llama"));
  half.set("general.type", GgufValue::make_string("adapter"));
  half.set("adapter.type", GgufValue::make_string("lora"));
  half.add_tensor(f.names[0] + ".lora_a", DType::F32, {d, kRank}, f.a[0].data());
  half.write(dir + "/half.gguf");
  EXPECT_THROW(load_lora_adapter(dir + "/half.gguf", base, 1.0f), Error);
  EXPECT_THROW(load_lora_adapter(shared_path(kF32), base, 1.0f), Error);  // not an adapter
}

}  // namespace
}  // namespace edgefit
