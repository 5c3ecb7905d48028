// A whole forward pass at 4096 positions on a tiny random-weight model built in memory: the KV
// cache in F32, F16 and Q8_0, prefilled in chunks and then decoded, gives finite logits, and the
// F16/Q8_0 caches stay within their stated distance of the F32 one. Also: the one-shot prefill and
// the chunked one agree (the cache's block boundaries do not matter).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "formats/model.h"
#include "model/transformer.h"

namespace edgefit {
namespace {

// Llama-shaped: 2 layers, d_model 64, 4 query heads and 2 KV heads of 32, d_ff 96, vocab 50.
Model tiny_model(int64_t context) {
  Model m;
  ArchConfig& c = m.config;
  c.architecture = "llama";
  c.n_layers = 2;
  c.d_model = 64;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 32;
  c.d_ff = 96;
  c.vocab_size = 50;
  c.max_context = static_cast<int>(context);
  auto store = std::make_shared<std::vector<std::vector<float>>>();
  m.keep_alive.push_back(store);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float sd, float mean = 0) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    store->emplace_back(static_cast<size_t>(n));
    for (float& x : store->back()) x = mean + sd * nd(rng);
    m.tensors.push_back(
        {name, TensorView::contiguous(DType::F32, shape, store->back().data()), "memory", 0});
  };
  store->reserve(32);  // views point into the vectors: no reallocation of the outer vector
  add("token_embd.weight", {c.vocab_size, c.d_model}, 1.0f);
  add("output_norm.weight", {c.d_model}, 0.1f, 1.0f);
  add("output.weight", {c.vocab_size, c.d_model}, 0.2f);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const float s = 1.0f / 8;  // 1/sqrt(d_model): activations keep their scale
    add(p + "attn_norm.weight", {c.d_model}, 0.1f, 1.0f);
    add(p + "attn_q.weight", {128, c.d_model}, 3 * s);  // sharp attention
    add(p + "attn_k.weight", {64, c.d_model}, 3 * s);
    add(p + "attn_v.weight", {64, c.d_model}, s);
    add(p + "attn_output.weight", {c.d_model, 128}, s / 1.4f);
    add(p + "ffn_norm.weight", {c.d_model}, 0.1f, 1.0f);
    add(p + "ffn_gate.weight", {c.d_ff, c.d_model}, s);
    add(p + "ffn_up.weight", {c.d_ff, c.d_model}, s);
    add(p + "ffn_down.weight", {c.d_model, c.d_ff}, s);
  }
  m.index();
  return m;
}

// Logits of the last token after prefilling `n` tokens in chunks of `chunk` and decoding 4 more.
std::vector<float> run(Transformer& t, KVType type, int64_t n, int64_t chunk) {
  KVCache cache = t.make_cache(n + 4, type, type);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 7 + i / 13) % 50);
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t len = std::min(chunk, n - i);
    t.forward(std::span<const int32_t>(ids.data() + i, static_cast<size_t>(len)), cache, len);
  }
  std::vector<float> logits;
  for (int32_t tok : {3, 1, 4, 1}) logits = t.forward(std::span<const int32_t>(&tok, 1), cache);
  EXPECT_EQ(cache.size(), n + 4);
  return logits;
}

TEST(LongContext, FourThousandPositionsInEveryCacheType) {
  const int64_t n = 4096;
  Model m = tiny_model(n + 4);
  Transformer t(m);
  const std::vector<float> f32 = run(t, KVType::F32, n, 512);
  const std::vector<float> f32_oneshot = run(t, KVType::F32, n, n);
  double range = 0;
  for (size_t i = 0; i < f32.size(); ++i) {
    ASSERT_TRUE(std::isfinite(f32[i])) << i;
    range = std::max(range, std::fabs(static_cast<double>(f32[i])));
    EXPECT_NEAR(f32_oneshot[i], f32[i], 1e-4 * (std::fabs(f32[i]) + 1)) << i;
  }
  ASSERT_GT(range, 0.1) << "logits carry signal";
  // Stated bounds, relative to the largest |logit|: F16 3e-3, Q8_0 5e-2 (measured 5.1e-4 and
  // 1.2e-2).
  for (auto [type, tol] : {std::pair{KVType::F16, 3e-3}, {KVType::Q8_0, 5e-2}}) {
    const std::vector<float> got = run(t, type, n, 512);
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - f32[i]) / range);
    RecordProperty(std::string("worst_") + kv_type_name(type), std::to_string(worst));
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(std::isfinite(got[i])) << kv_type_name(type) << " " << i;
      EXPECT_NEAR(got[i], f32[i], tol * range) << kv_type_name(type) << " " << i;
    }
  }
}

// Decoding with more threads than KV heads splits the 4096 positions over threads and combines
// the parts: the same logits as one thread within float rounding.
TEST(LongContext, SplitDecodeMatchesOneThread) {
  const int64_t n = 4096;
  Model m = tiny_model(n + 4);
  Transformer t(m);
  ThreadPool::set_global_threads(1);
  const std::vector<float> one = run(t, KVType::F16, n, 1024);
  ThreadPool::set_global_threads(4);  // 2 KV heads: each decode step splits into 2 parts per head
  const std::vector<float> four = run(t, KVType::F16, n, 1024);
  ThreadPool::set_global_threads(0);
  for (size_t i = 0; i < one.size(); ++i)
    EXPECT_NEAR(four[i], one[i], 1e-4 * (std::fabs(one[i]) + 1)) << i;
}

}  // namespace
}  // namespace edgefit
