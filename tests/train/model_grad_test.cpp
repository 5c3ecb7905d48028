// Whole-model gradients against ../shared/ref/grad (float64 PyTorch autograd of the HF forward):
// cross-entropy for tiny-llama, tiny-qwen2, tiny-qwen3 and stories260K, distillation against
// llama.cpp's Q4_K_M logits where the reference has it; models loaded through edgefit's own
// loader, from the HF folder the reference used and from GGUF files whose q/k rows are in
// llama.cpp's interleaved layout (gradients permuted back to the HF rows to compare). Then
// gradient checkpointing against stored activations, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "formats/hf_config.h"
#include "formats/model.h"
#include "formats/qk_permute.h"
#include "formats/safetensors.h"
#include "model/transformer.h"
#include "test_data.h"
#include "train/train_model.h"

namespace edgefit::train {
namespace {

using test::shared_path;

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

std::vector<float> read_f32(const std::string& path) {
  const std::string bytes = test::slurp(path);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

// The gradient of `p` in Hugging Face row order (q/k rows un-permuted for interleaved models).
std::vector<float> grad_in_hf_layout(const Parameter& p, const ArchConfig& cfg) {
  const bool qk = p.name.find("attn_q.weight") != std::string::npos ||
                  p.name.find("attn_k.weight") != std::string::npos;
  if (!cfg.rope_interleaved || !qk) return p.grad;
  std::vector<float> out(p.grad.size());
  const int64_t rows = p.shape[0], cols = p.shape[1];
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t src = qk_gguf_row_for_hf_row(r, cfg.head_dim);
    std::memcpy(out.data() + r * cols, p.grad.data() + src * cols, cols * sizeof(float));
  }
  return out;
}

struct GradCase {
  std::string ref;    // folder under ref/grad
  std::string model;  // model path relative to ../shared
  bool interleaved;   // expected q/k row layout of that file
};

// Runs forward+backward of `c.model` on the reference ids and compares the loss and every
// gradient tensor of the reference file `grad_file` (teacher logits: distillation).
void compare(const GradCase& c, const std::string& grad_file, const std::string& teacher,
             double want_loss) {
  SCOPED_TRACE(c.model + " vs " + grad_file);
  const nlohmann::json man = read_json(shared_path("ref/grad/" + c.ref + "/manifest.json"));
  const std::vector<int32_t> ids = man["token_ids"].get<std::vector<int32_t>>();
  Model m = load_model(shared_path(c.model));
  ASSERT_EQ(m.config.rope_interleaved, c.interleaved);
  TrainModel tm(m);
  LossSpec spec;
  std::vector<float> teacher_logits;
  if (!teacher.empty()) {
    const nlohmann::json tman = read_json(shared_path("ref/logits/" + teacher + "/manifest.json"));
    ASSERT_EQ(tman["sequences"]["s32"]["token_ids"].get<std::vector<int32_t>>(), ids);
    teacher_logits = read_f32(shared_path("ref/logits/" + teacher + "/s32.bin"));
    ASSERT_EQ(teacher_logits.size(), ids.size() * static_cast<size_t>(m.config.vocab_size));
    spec.teacher_logits = teacher_logits.data();
    spec.temperature = 2.0;
  }
  tm.params().zero_grad();
  const double loss = tm.forward_backward(ids, spec, true);
  EXPECT_NEAR(loss, want_loss, 1e-5 * std::abs(want_loss));

  SafetensorsFile ref(shared_path("ref/grad/" + c.ref + "/" + grad_file));
  // A GGUF made from a tied model may carry the head as its own copy of the embedding
  // (stories260K's does); the tied reference's gradient is then the sum of both.
  size_t compared = 0;
  double worst = 0;  // largest per-tensor relative error, reported for the margin
  Parameter* head = tm.params().find("output.weight");
  if (head && !ref.find("lm_head.weight")) {
    Parameter& embd = tm.params().get("token_embd.weight");
    ASSERT_EQ(head->value, embd.value) << "untied head where the reference is tied";
    for (size_t i = 0; i < embd.grad.size(); ++i) embd.grad[i] += head->grad[i];
    ++compared;
  }
  for (const SafetensorsEntry& e : ref.tensors()) {
    const auto name = hf_to_gguf_name(e.name);
    ASSERT_TRUE(name) << e.name;
    Parameter* p = tm.params().find(*name);
    ASSERT_NE(p, nullptr) << *name;
    ASSERT_EQ(e.dtype, DType::F32);
    ASSERT_EQ(e.nbytes, p->grad.size() * 4) << *name;
    const float* want = reinterpret_cast<const float*>(ref.data(e));
    const std::vector<float> got = grad_in_hf_layout(*p, m.config);
    double num = 0, den = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      num += (double{got[i]} - want[i]) * (double{got[i]} - want[i]);
      den += double{want[i]} * want[i];
    }
    ASSERT_GT(den, 0) << *name;
    EXPECT_LE(std::sqrt(num / den), 1e-4) << *name;
    worst = std::max(worst, std::sqrt(num / den));
    ++compared;
  }
  std::printf("%s %s: loss %.10f (ref %.10f), worst tensor rel. error %.2e\n", c.model.c_str(),
              grad_file.c_str(), loss, want_loss, worst);
  // Every parameter of the model has a reference gradient.
  EXPECT_EQ(compared, tm.params().all().size());
}

void compare_all(const GradCase& c) {
  const nlohmann::json man = read_json(shared_path("ref/grad/" + c.ref + "/manifest.json"));
  compare(c, man["ce"]["file"], "", man["ce"]["loss"].get<double>());
  if (man.contains("kd"))
    for (const auto& kd : man["kd"]) {
      std::string teacher = kd["teacher_logits"].get<std::string>();  // ref/logits/X/s32.bin
      teacher = teacher.substr(std::string("ref/logits/").size());
      teacher = teacher.substr(0, teacher.find('/'));
      ASSERT_EQ(kd["temperature"].get<double>(), 2.0);
      compare(c, kd["file"], teacher, kd["loss"].get<double>());
    }
}

TEST(TrainModelGrad, TinyLlamaHf) {
  compare_all({"tiny-llama", "ref/models/tiny-llama/hf", false});
}
TEST(TrainModelGrad, TinyLlamaGgufInterleaved) {
  compare_all({"tiny-llama", "ref/models/tiny-llama/gguf/tiny-llama-f32.gguf", true});
}
TEST(TrainModelGrad, TinyQwen2Hf) {
  compare_all({"tiny-qwen2", "ref/models/tiny-qwen2/hf", false});
}
TEST(TrainModelGrad, TinyQwen3Hf) {
  compare_all({"tiny-qwen3", "ref/models/tiny-qwen3/hf", false});
}
TEST(TrainModelGrad, Stories260KHf) {
  compare_all({"stories260K", "models/stories260K/hf", false});
}
TEST(TrainModelGrad, Stories260KGgufInterleaved) {
  compare_all({"stories260K", "models/stories260K/gguf/stories260K-f32.gguf", true});
}

// Checkpointed gradients equal the stored-activation ones exactly, for each architecture
// feature (qwen2 biases, qwen3 q/k norms, GQA llama) and both losses, at the given block input
// spacings (on stories260K's 5 blocks, 2 keeps inputs 0, 2, 4 and recomputes 1 and 3; 4
// recomputes 1, 2, 3 in a row from block 0's; the 2-block tiny models keep both at any spacing).
void expect_checkpoint_exact(const std::string& path, std::initializer_list<int> spacings = {2}) {
  SCOPED_TRACE(path);
  Model m = load_model(shared_path(path));
  TrainModel tm(m);
  std::vector<int32_t> ids;
  for (int i = 0; i < 24; ++i) ids.push_back((i * 37 + 11) % m.config.vocab_size);
  std::vector<float> teacher(ids.size() * static_cast<size_t>(m.config.vocab_size));
  for (size_t i = 0; i < teacher.size(); ++i) teacher[i] = std::sin(0.1 * static_cast<double>(i));
  for (const LossSpec& spec : {LossSpec{}, LossSpec{teacher.data(), 2.0}}) {
    tm.params().zero_grad();
    const double plain = tm.forward_backward(ids, spec, false);
    std::vector<std::vector<float>> grads;
    for (const Parameter& p : tm.params().all()) grads.push_back(p.grad);
    for (const int spacing : spacings) {
      SCOPED_TRACE(spacing);
      tm.set_block_input_spacing(spacing);
      tm.params().zero_grad();
      const double ckpt = tm.forward_backward(ids, spec, true);
      EXPECT_EQ(plain, ckpt);
      size_t i = 0;
      for (const Parameter& p : tm.params().all()) EXPECT_EQ(p.grad, grads[i++]) << p.name;
    }
  }
  EXPECT_THROW(tm.set_block_input_spacing(0), Error);
}

TEST(TrainModelGrad, CheckpointingIsExact) {
  expect_checkpoint_exact("ref/models/tiny-llama/hf");
  expect_checkpoint_exact("ref/models/tiny-qwen2/hf");
  expect_checkpoint_exact("ref/models/tiny-qwen3/hf");
  expect_checkpoint_exact("models/stories260K/gguf/stories260K-f32.gguf", {2, 4});
}

TEST(TrainModelGrad, BlockObserverSeesTheInferenceLinearInputs) {
  // The block observer's inputs (xn1, the attention output and xn2 recomputed after the block ran,
  // act as saved) are the ones the inference pass (model/transformer.h, its own code) feeds each
  // linear layer, up to the two passes' float order.
  Model m = load_model(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  std::vector<int32_t> ids;
  for (int i = 0; i < 16; ++i) ids.push_back((i * 37 + 11) % m.config.vocab_size);
  std::map<std::string, std::vector<float>> want, got;
  Transformer t(m);
  t.set_activation_observer([&](const std::string& name, const float* x, int64_t n, int64_t w) {
    want[name].assign(x, x + n * w);
  });
  KVCache cache = t.make_cache(static_cast<int64_t>(ids.size()));
  t.forward(ids, cache);
  TrainModel tm(m);
  tm.set_block_observer([&](int layer, const TrainModel::BlockInputs& in) {
    const std::string p = "blk." + std::to_string(layer) + ".";
    const std::pair<const char*, std::span<const float>> inputs[] = {
        {"attn_q", in.xn1}, {"attn_output", in.att}, {"ffn_gate", in.xn2}, {"ffn_down", in.act}};
    for (const auto& [name, x] : inputs) got[p + name + ".weight"].assign(x.begin(), x.end());
  });
  tm.loss(ids, {});
  ASSERT_EQ(got.size(), static_cast<size_t>(4 * m.config.n_layers));
  for (const auto& [name, x] : got) {
    ASSERT_TRUE(want.count(name)) << name;
    const std::vector<float>& w = want[name];
    ASSERT_EQ(x.size(), w.size()) << name;
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      num += (double{x[i]} - w[i]) * (double{x[i]} - w[i]);
      den += double{w[i]} * w[i];
    }
    EXPECT_LT(std::sqrt(num / den), 1e-3) << name;
  }
}

TEST(TrainModelGrad, LossMatchesInferenceLogitsPath) {
  // The training forward's logits agree with llama.cpp's (the forward the gradients belong to).
  const nlohmann::json man = read_json(shared_path("ref/logits/tiny-qwen3/manifest.json"));
  Model m = load_model(shared_path("ref/models/tiny-qwen3/hf"));
  TrainModel tm(m);
  const auto& seq = man["sequences"]["s16"];
  const std::vector<int32_t> ids = seq["token_ids"].get<std::vector<int32_t>>();
  const std::vector<float> want = read_f32(shared_path("ref/logits/tiny-qwen3/s16.bin"));
  const std::vector<float> got = tm.logits(ids);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4) << i;
}

TEST(TrainModelGrad, RejectsBadIds) {
  Model m = load_model(shared_path("ref/models/tiny-llama/hf"));
  TrainModel tm(m);
  const std::vector<int32_t> bad = {1, m.config.vocab_size};
  EXPECT_THROW(tm.forward_backward(bad, {}, true), Error);
  const std::vector<int32_t> short_seq = {1};
  EXPECT_THROW(tm.loss(short_seq, {}), Error);
}

}  // namespace
}  // namespace edgefit::train
