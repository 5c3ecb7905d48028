// Distillation in training: the LM/KD mixed loss, the on-the-fly teacher, and LoRA recovery of a
// quantized student towards its f32 teacher on a small scale.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "formats/model.h"
#include "grad_check.h"
#include "test_data.h"
#include "train/teacher.h"
#include "train/train_loop.h"
#include "train/train_model.h"

namespace edgefit::train {
namespace {

using test::shared_path;

std::vector<std::vector<float>> grads(TrainModel& m) {
  std::vector<std::vector<float>> g;
  for (const Parameter& p : m.params().all()) g.push_back(p.grad);
  return g;
}

TEST(Distill, MixedLossIsTheWeightedSumOfBoth) {
  Model m = load_model(shared_path("ref/models/tiny-qwen3/hf"));
  TrainModel tm(m);
  std::vector<int32_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back((i * 41 + 3) % m.config.vocab_size);
  std::vector<float> teacher(ids.size() * m.config.vocab_size);
  for (size_t i = 0; i < teacher.size(); ++i) teacher[i] = std::cos(0.37 * static_cast<double>(i));
  auto run = [&](const LossSpec& spec) {
    tm.params().zero_grad();
    const double l = tm.forward_backward(ids, spec, true);
    return std::make_pair(l, grads(tm));
  };
  const auto [ce, g_ce] = run({});
  const auto [kd, g_kd] = run({teacher.data(), 2.0, 1.0});
  const auto [mix, g_mix] = run({teacher.data(), 2.0, 0.3});
  EXPECT_NEAR(mix, 0.3 * kd + 0.7 * ce, 1e-12 * mix);
  for (size_t k = 0; k < g_mix.size(); ++k) {
    std::vector<double> want(g_mix[k].size()), got(g_mix[k].begin(), g_mix[k].end());
    for (size_t i = 0; i < want.size(); ++i) want[i] = 0.3 * g_kd[k][i] + 0.7 * g_ce[k][i];
    EXPECT_LT(test::rel_error(got, want), 1e-5) << tm.params().all()[k].name;
  }
}

TEST(Distill, TeacherLogitsMatchTheTrainingForward) {
  Model m = load_model(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  Teacher teacher(m);
  TrainModel student(m, LoraConfig{});  // B = 0: the student starts as the base
  std::vector<int32_t> ids = {1};
  for (int i = 1; i < 30; ++i) ids.push_back((i * 67) % m.config.vocab_size);
  const std::vector<float> t = teacher.logits(ids), s = student.logits(ids);
  ASSERT_EQ(t.size(), s.size());
  for (size_t i = 0; i < t.size(); ++i) ASSERT_NEAR(t[i], s[i], 1e-4) << i;
  EXPECT_LT(student.loss(ids, {t.data(), 2.0, 1.0}), 1e-9);
}

TEST(Distill, LoraRecoversTowardsTheTeacher) {
  // Student: Q2_K stories260K with rank-8 adapters; teacher: the f32 model. A few distillation
  // steps on 6 windows lower the mean KL(teacher ‖ student) on those windows.
  Model base = load_model(shared_path("models/stories260K/gguf/quantized/stories260K-Q2_K.gguf"));
  Model f32 = load_model(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  Teacher teacher(f32);
  LoraConfig lc;
  lc.rank = 8;
  lc.alpha = 16;
  TrainModel student(base, lc);
  std::vector<std::vector<int32_t>> windows;
  for (int w = 0; w < 6; ++w) {
    std::vector<int32_t> ids = {1};
    for (int i = 1; i < 48; ++i) ids.push_back((w * 113 + i * 29 + i * i * 7) % 512);
    windows.push_back(ids);
  }
  auto mean_kl = [&] {
    double s = 0;
    for (const auto& ids : windows) {
      const std::vector<float> t = teacher.logits(ids);
      s += student.loss(ids, {t.data(), 2.0, 1.0});
    }
    return s / static_cast<double>(windows.size());
  };
  const double before = mean_kl();
  TrainLoopConfig cfg;
  cfg.schedule = {5e-3, 5e-4, 2, 18};
  cfg.teacher = &teacher;
  cfg.seed = 5;
  AdamW opt({0.9, 0.999, 1e-8, 0.0});
  run_steps(student, opt, windows, cfg, 0, 18);
  const double after = mean_kl();
  std::printf("stories260K Q2_K + LoRA r8 distilled from f32: mean KL %.5f -> %.5f\n", before,
              after);
  EXPECT_GT(before, 1e-3);  // Q2_K is measurably off the teacher
  EXPECT_LT(after, 0.8 * before);
}

}  // namespace
}  // namespace edgefit::train
