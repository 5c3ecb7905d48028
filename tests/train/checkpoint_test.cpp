// Training checkpoints: a run "killed" midway and resumed from its last checkpoint ends with
// the same adapter bytes as an uninterrupted run; bad checkpoints are refused untouched.
#include "train/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/model.h"
#include "test_data.h"
#include "train/train_loop.h"
#include "train/train_model.h"

namespace edgefit::train {
namespace {

using test::shared_path;

const char* kBase = "models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf";

std::vector<std::vector<int32_t>> examples(int vocab) {
  std::vector<std::vector<int32_t>> ex;
  for (int e = 0; e < 5; ++e) {
    std::vector<int32_t> ids = {1};
    for (int i = 1; i < 24; ++i) ids.push_back((e * 97 + i * 31 + i * i) % vocab);
    ex.push_back(ids);
  }
  return ex;
}

LoraConfig lora_config() {
  LoraConfig c;
  c.rank = 4;
  c.alpha = 8;
  c.seed = 3;
  return c;
}

TrainLoopConfig loop_config() {
  TrainLoopConfig c;
  c.schedule = {5e-3, 5e-4, 2, 7};
  c.seed = 17;
  return c;
}

std::vector<std::vector<float>> values(TrainModel& m) {
  std::vector<std::vector<float>> v;
  for (const Parameter& p : m.params().all()) v.push_back(p.value);
  return v;
}

struct Killed : std::runtime_error {
  Killed() : std::runtime_error("killed") {}
};

// With f32 moments and with 8-bit ones (train/moments8.h: the checkpoint stores the codes and
// block scales as the optimizer holds them).
void resumed_run_equals_uninterrupted_run(int bits) {
  Model base = load_model(shared_path(kBase));
  const AdamWConfig adam{0.9, 0.999, 1e-8, 0.01, bits};
  const auto ex = examples(base.config.vocab_size);
  const int64_t total = 7;

  TrainModel straight(base, lora_config());
  AdamW opt_straight(adam);
  run_steps(straight, opt_straight, ex, loop_config(), 0, total);

  // The interrupted run checkpoints every 2 steps and dies during step 4 (after the checkpoint
  // of steps 0-3), so the work of step 4 is lost and redone.
  const std::string dir = test::scratch_dir("train-checkpoint-" + std::to_string(bits));
  TrainLoopConfig cfg = loop_config();
  cfg.checkpoint_path = dir + "/ckpt.safetensors";
  cfg.checkpoint_every = 2;
  {
    TrainModel first(base, lora_config());
    AdamW opt(adam);
    auto die = [](const StepReport& r) {
      if (r.step == 4) throw Killed();
      return true;
    };
    EXPECT_THROW(run_steps(first, opt, ex, cfg, 0, total, die), Killed);
  }
  TrainModel resumed(base, lora_config());
  AdamW opt(adam);
  const int64_t next = load_checkpoint(cfg.checkpoint_path, resumed.params(), opt);
  EXPECT_EQ(next, 4);
  EXPECT_EQ(opt.steps(), 4);
  run_steps(resumed, opt, ex, cfg, next, total);
  EXPECT_EQ(values(resumed), values(straight));
  // And the adapters really moved (B started at zero).
  for (const Parameter& p : resumed.params().all()) {
    if (p.name.ends_with(".lora_b")) {
      EXPECT_NE(p.value, std::vector<float>(p.value.size(), 0.0f)) << p.name;
    }
  }
}

TEST(Checkpoint, ResumedRunEqualsUninterruptedRun) {
  resumed_run_equals_uninterrupted_run(32);
}

TEST(Checkpoint, ResumedRunEqualsUninterruptedRunWith8BitMoments) {
  resumed_run_equals_uninterrupted_run(8);
}

TEST(Checkpoint, BadCheckpointsAreRefusedAndChangeNothing) {
  Model base = load_model(shared_path(kBase));
  const std::string dir = test::scratch_dir("train-checkpoint-bad");
  TrainModel model(base, lora_config());
  AdamW opt;
  run_steps(model, opt, examples(base.config.vocab_size), loop_config(), 0, 1);
  const std::string good = dir + "/good.safetensors";
  save_checkpoint(good, model.params(), opt, 1);

  LoraConfig other = lora_config();
  other.rank = 2;  // other shapes
  TrainModel wrong(base, other);
  AdamW opt2;
  const auto before = values(wrong);
  EXPECT_THROW(load_checkpoint(good, wrong.params(), opt2), Error);
  EXPECT_EQ(values(wrong), before);
  EXPECT_EQ(opt2.steps(), 0);

  LoraConfig fewer = lora_config();
  fewer.targets = {"q"};  // a subset: the file has tensors this model lacks
  TrainModel subset(base, fewer);
  EXPECT_THROW(load_checkpoint(good, subset.params(), opt2), Error);

  const std::string bytes = test::slurp(good);
  const std::string cut = dir + "/cut.safetensors";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THROW(load_checkpoint(cut, model.params(), opt2), Error);
  EXPECT_FALSE(std::filesystem::exists(good + ".tmp-" + std::to_string(::getpid())));
}

}  // namespace
}  // namespace edgefit::train
