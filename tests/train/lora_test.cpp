// LoRA on a frozen base: adapter gradients against the full-model gradient of the merged weight
// (itself checked against PyTorch in model_grad_test.cpp), against finite differences, and a few
// AdamW steps on a quantized stories260K lowering the loss on the text trained on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "formats/model.h"
#include "grad_check.h"
#include "model/matmul.h"
#include "model/transformer.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"
#include "train/adamw.h"
#include "train/data_order.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/train_model.h"

namespace edgefit::train {
namespace {

using test::shared_path;

const char* kQ4Base = "models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf";

// Fills every adapter B with small random values (B starts at zero, where dA vanishes).
void randomize_b(ParameterSet& ps, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  for (Parameter& p : ps.all())
    if (p.name.ends_with(".lora_b"))
      for (float& v : p.value) v = dist(rng);
}

std::vector<int32_t> some_ids(int n, int vocab) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back((i * 131 + 7) % vocab);
  return ids;
}

// For y = x·(W + s·B·A)ᵀ:  dB = s · dW'·Aᵀ and dA = s · Bᵀ·dW', with dW' the gradient of the
// merged weight, which a full-training model holding W' computes.
void expect_lora_matches_merged(const std::string& path) {
  SCOPED_TRACE(path);
  Model m = load_model(shared_path(path));
  LoraConfig cfg;
  cfg.rank = 3;
  cfg.alpha = 6;
  cfg.seed = 11;
  TrainModel lora(m, cfg);
  randomize_b(lora.params(), 5);
  TrainModel full(m);
  const double s = cfg.alpha / cfg.rank;
  int64_t adapters = 0;
  for (Parameter& a : lora.params().all()) {
    if (!a.name.ends_with(".lora_a")) continue;
    const std::string base = a.name.substr(0, a.name.size() - 7);
    const Parameter& b = lora.params().get(base + ".lora_b");
    Parameter& w = full.params().get(base);
    const int64_t n_out = w.shape[0], n_in = w.shape[1], r = cfg.rank;
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t i = 0; i < n_in; ++i) {
        double d = 0;
        for (int64_t k = 0; k < r; ++k) d += double{b.value[o * r + k]} * a.value[k * n_in + i];
        w.value[o * n_in + i] = static_cast<float>(w.value[o * n_in + i] + s * d);
      }
    ++adapters;
  }
  EXPECT_EQ(adapters, 7 * m.config.n_layers);
  const std::vector<int32_t> ids = some_ids(20, m.config.vocab_size);
  lora.params().zero_grad();
  full.params().zero_grad();
  const double l_lora = lora.forward_backward(ids, {}, true);
  const double l_full = full.forward_backward(ids, {}, false);
  EXPECT_NEAR(l_lora, l_full, 1e-5 * l_full);
  for (Parameter& a : lora.params().all()) {
    if (!a.name.ends_with(".lora_a")) continue;
    const std::string base = a.name.substr(0, a.name.size() - 7);
    const Parameter& b = lora.params().get(base + ".lora_b");
    const Parameter& w = full.params().get(base);
    const int64_t n_out = w.shape[0], n_in = w.shape[1], r = cfg.rank;
    std::vector<double> want_b(n_out * r, 0.0), want_a(r * n_in, 0.0);
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t i = 0; i < n_in; ++i) {
        const double g = w.grad[o * n_in + i];
        for (int64_t k = 0; k < r; ++k) {
          want_b[o * r + k] += s * g * a.value[k * n_in + i];
          want_a[k * n_in + i] += s * b.value[o * r + k] * g;
        }
      }
    const std::vector<double> got_a(a.grad.begin(), a.grad.end());
    const std::vector<double> got_b(b.grad.begin(), b.grad.end());
    EXPECT_LT(test::rel_error(got_a, want_a), 1e-4) << a.name;
    EXPECT_LT(test::rel_error(got_b, want_b), 1e-4) << b.name;
  }
}

TEST(Lora, GradientsMatchTheMergedWeightGradient) {
  expect_lora_matches_merged("models/stories260K/gguf/stories260K-f32.gguf");  // interleaved
  expect_lora_matches_merged("ref/models/tiny-qwen2/hf");                      // q/k/v biases
  expect_lora_matches_merged("ref/models/tiny-qwen3/hf");                      // q/k norms
}

TEST(Lora, GradientsMatchFiniteDifferences) {
  // Directional derivatives along random directions through all adapter values at once.
  Model m = load_model(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  LoraConfig cfg;
  cfg.rank = 2;
  cfg.alpha = 4;
  cfg.targets = {"q", "v", "down"};
  // The f32 reference product: the runtime kernels round activations to 8 bits, a step the
  // finite differences would see as noise.
  TrainModel lora(m, cfg, MatmulChoice{.fn = matmul_ref});
  randomize_b(lora.params(), 9);
  const std::vector<int32_t> ids = some_ids(16, m.config.vocab_size);
  lora.params().zero_grad();
  lora.forward_backward(ids, {}, false);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<std::vector<float>> dir;
    double norm = 0, analytic = 0;
    for (Parameter& p : lora.params().all()) {
      dir.emplace_back(p.value.size());
      for (float& v : dir.back()) {
        v = dist(rng);
        norm += double{v} * v;
      }
    }
    // A step large enough that the f32 loss's rounding (~1e-7 of it) stays far below the
    // difference, small enough that the central difference's O(h²) term does too.
    const double h = 5e-2 / std::sqrt(norm);
    auto shifted_loss = [&](double step) {
      std::vector<std::vector<float>> saved;
      size_t k = 0;
      for (Parameter& p : lora.params().all()) {
        saved.push_back(p.value);
        for (size_t i = 0; i < p.value.size(); ++i)
          p.value[i] = static_cast<float>(p.value[i] + step * dir[k][i]);
        ++k;
      }
      const double l = lora.loss(ids, {});
      k = 0;
      for (Parameter& p : lora.params().all()) p.value = saved[k++];
      return l;
    };
    size_t k = 0;
    for (Parameter& p : lora.params().all()) {
      for (size_t i = 0; i < p.grad.size(); ++i) analytic += double{p.grad[i]} * dir[k][i];
      ++k;
    }
    const double numeric = (shifted_loss(h) - shifted_loss(-h)) / (2 * h);
    std::printf("direction %d: numeric %.9f analytic %.9f\n", trial, numeric, analytic);
    EXPECT_NEAR(numeric, analytic, 2e-3 * std::abs(analytic)) << "direction " << trial;
  }
}

TEST(Lora, OnlyAdaptersAreTrained) {
  Model m = load_model(shared_path("models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf"));
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.targets = {"q", "o"};
  TrainModel lora(m, cfg);
  const int64_t d = m.config.d_model, q_dim = int64_t{m.config.n_heads} * m.config.head_dim;
  EXPECT_EQ(lora.params().all().size(), 4u * m.config.n_layers);
  EXPECT_EQ(lora.params().n_values(), m.config.n_layers * (4 * d + q_dim * 4 + 4 * q_dim + d * 4));
  for (const Parameter& p : lora.params().all())
    EXPECT_TRUE(p.name.ends_with(".lora_a") || p.name.ends_with(".lora_b")) << p.name;
  LoraConfig bad = cfg;
  bad.targets = {"qkv"};
  EXPECT_THROW(TrainModel(m, bad), Error);
  bad = cfg;
  bad.rank = 0;
  EXPECT_THROW(TrainModel(m, bad), Error);
}

TEST(Lora, ReleasedGradientsGiveTheSameGradients) {
  // A step starting from released gradients (sized block by block during the backward, the
  // memory-saving order train_loop uses) equals one starting from zeroed ones, bit for bit, with
  // and without checkpointing; a second call accumulates onto the first's gradients as before.
  Model m = load_model(shared_path("models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf"));
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.seed = 5;
  std::vector<int32_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back((i * 37 + 11) % m.config.vocab_size);
  for (const bool checkpoint : {true, false}) {
    TrainModel zeroed(m, cfg), released(m, cfg);
    // Non-zero B, so every adapter gradient is non-trivial.
    for (TrainModel* t : {&zeroed, &released})
      for (Parameter& p : t->params().all())
        for (size_t i = 0; i < p.value.size(); ++i)
          p.value[i] += 0.01f * static_cast<float>(std::sin(0.3 * static_cast<double>(i)));
    zeroed.params().zero_grad();
    released.params().release_grads();
    EXPECT_TRUE(released.params().all().front().grad.empty());
    EXPECT_EQ(zeroed.forward_backward(ids, {}, checkpoint),
              released.forward_backward(ids, {}, checkpoint));
    for (size_t k = 0; k < zeroed.params().all().size(); ++k)
      EXPECT_EQ(zeroed.params().all()[k].grad, released.params().all()[k].grad)
          << zeroed.params().all()[k].name;
    zeroed.forward_backward(ids, {}, checkpoint);
    released.forward_backward(ids, {}, checkpoint);
    for (size_t k = 0; k < zeroed.params().all().size(); ++k)
      EXPECT_EQ(zeroed.params().all()[k].grad, released.params().all()[k].grad);
  }
}

TEST(Lora, BlockInputSpacingGivesTheSameGradients) {
  // Keeping every k-th block input and recomputing the others (TrainModel::
  // set_block_input_spacing) gives the adapters the gradients of keeping them all, bit for bit,
  // from released gradients as train_loop runs it (stories260K: 5 blocks; 5 keeps only block 0's
  // input and the last one's).
  Model m = load_model(shared_path(kQ4Base));
  LoraConfig cfg;
  cfg.rank = 4;
  cfg.seed = 5;
  TrainModel tm(m, cfg);
  randomize_b(tm.params(), 9);
  const std::vector<int32_t> ids = some_ids(20, m.config.vocab_size);
  tm.set_block_input_spacing(1);
  tm.params().release_grads();
  const double want_loss = tm.forward_backward(ids, {}, true);
  std::vector<std::vector<float>> want;
  for (const Parameter& p : tm.params().all()) want.push_back(p.grad);
  for (const int spacing : {2, 3, 5}) {
    SCOPED_TRACE(spacing);
    tm.set_block_input_spacing(spacing);
    tm.params().release_grads();
    EXPECT_EQ(tm.forward_backward(ids, {}, true), want_loss);
    for (size_t k = 0; k < want.size(); ++k)
      EXPECT_EQ(tm.params().all()[k].grad, want[k]) << tm.params().all()[k].name;
  }
}

TEST(Lora, FrozenQuantizedBaseGivesTheInferenceLogits) {
  // With B = 0 the student is its base: the training forward over the frozen Q4_K_M weights
  // (quantized embedding rows, the runtime kernels with activations quantized on the fly) agrees
  // with edgefit's inference pass closely, and with llama.cpp's logits as closely as that pass
  // does (model/logits_test.cpp: 0.5 at every logit, every argmax).
  const std::string dir = shared_path("ref/logits/stories260K-Q4_K_M");
  const nlohmann::json man = nlohmann::json::parse(test::slurp(dir + "/manifest.json"));
  Model m = load_model(shared_path(kQ4Base));
  TrainModel lora(m, LoraConfig{});
  const std::vector<int32_t> ids = man["sequences"]["s32"]["token_ids"].get<std::vector<int32_t>>();
  const std::string bytes = test::slurp(dir + "/s32.bin");
  std::vector<float> llama_cpp(bytes.size() / 4);
  std::memcpy(llama_cpp.data(), bytes.data(), bytes.size());
  Transformer tf(m);
  KVCache cache = tf.make_cache(static_cast<int64_t>(ids.size()));
  const std::vector<float> inference = tf.forward(ids, cache);
  const std::vector<float> got = lora.logits(ids);
  ASSERT_EQ(got.size(), llama_cpp.size());
  ASSERT_EQ(got.size(), inference.size());
  double max_vs_inference = 0, max_vs_llama = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    const float* g = got.data() + t * 512;
    const float* w = llama_cpp.data() + t * 512;
    EXPECT_EQ(std::max_element(g, g + 512) - g, std::max_element(w, w + 512) - w) << t;
    for (int v = 0; v < 512; ++v) {
      max_vs_llama = std::max(max_vs_llama, double{std::abs(g[v] - w[v])});
      max_vs_inference =
          std::max(max_vs_inference, double{std::abs(g[v] - inference[t * 512 + v])});
    }
  }
  std::printf("Q4_K_M base: max |logit diff| %.2e vs inference, %.2e vs llama.cpp\n",
              max_vs_inference, max_vs_llama);
  EXPECT_LT(max_vs_llama, 0.5);
  // The runtime kernels quantize activations to 8 bits, so the ~1e-6 differences of the other
  // ops (vectorised exp, summation order; the inference pass's fused online-softmax attention)
  // flip a rounding here and there: 0.05 was seen with the two-pass attention, 0.23 with the
  // fused one. The bound is llama.cpp's own distance from edgefit's inference pass (0.5, as in
  // model/logits_test.cpp) with margin; the reference product below checks the math tightly.
  EXPECT_LT(max_vs_inference, 0.3);
  // With the f32 reference product (weights dequantized row by row, activations exact) in both
  // passes, only those ~1e-6 differences remain.
  // (both take the product per instance: nothing process-wide is switched)
  Transformer tf_ref(m, MatmulChoice{.fn = matmul_ref});
  KVCache cache_ref = tf_ref.make_cache(static_cast<int64_t>(ids.size()));
  const std::vector<float> inference_ref = tf_ref.forward(ids, cache_ref);
  TrainModel lora_ref(m, LoraConfig{}, MatmulChoice{.fn = matmul_ref});
  const std::vector<float> got_ref = lora_ref.logits(ids);
  double max_ref = 0;
  for (size_t i = 0; i < got_ref.size(); ++i)
    max_ref = std::max(max_ref, double{std::abs(got_ref[i] - inference_ref[i])});
  std::printf("Q4_K_M base, reference product: max |logit diff| %.2e vs inference\n", max_ref);
  EXPECT_LT(max_ref, 1e-4);
}

TEST(Lora, FewStepsLowerTheLossOnAQuantizedBase) {
  // Frozen Q4_K_M stories260K, rank-8 adapters on every projection, 8 windows of 64 tokens of
  // TinyStories text, 24 AdamW steps of one window each (seeded order, warm-up + cosine,
  // clipping). The mean loss over the 8 windows must fall clearly (1.79 -> 0.52 when written).
  const std::string gguf = shared_path("models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf");
  Model m = load_model(gguf);
  auto tok = load_tokenizer(gguf);
  const std::string text =
      test::slurp(shared_path("text/tinystories/TinyStories-valid.head31k.txt"));
  const std::vector<int32_t> all = tok->encode(text.substr(0, 8000), true, false);
  const int64_t window = 64, n_windows = 8;
  ASSERT_GE(static_cast<int64_t>(all.size()), window * n_windows);
  std::vector<std::vector<int32_t>> windows;
  for (int64_t w = 0; w < n_windows; ++w)
    windows.emplace_back(all.begin() + w * window, all.begin() + (w + 1) * window);
  LoraConfig cfg;
  cfg.rank = 8;
  cfg.alpha = 16;
  TrainModel lora(m, cfg);
  auto mean_loss = [&] {
    double s = 0;
    for (const auto& w : windows) s += lora.loss(w, {});
    return s / static_cast<double>(windows.size());
  };
  const double before = mean_loss();
  AdamW opt({0.9, 0.999, 1e-8, 0.0});
  const LrSchedule sched{1e-2, 1e-3, 2, 24};
  const DataOrder order(n_windows, 42);
  for (int64_t step = 0; step < 24; ++step) {
    lora.params().zero_grad();
    lora.forward_backward(windows[order.at(step)], {}, true);
    clip_grad_norm(lora.params(), 1.0);
    opt.step(lora.params(), learning_rate(sched, step));
  }
  const double after = mean_loss();
  std::printf("stories260K Q4_K_M + LoRA r8: mean loss %.4f -> %.4f over %lld windows\n", before,
              after, static_cast<long long>(n_windows));
  EXPECT_LT(after, before * 0.9);
}

}  // namespace
}  // namespace edgefit::train
