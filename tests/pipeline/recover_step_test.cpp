// A recipe's lora recovery step (pipeline/recover_step.h): its params become the run's settings
// (errors name the field), and the step trains exactly what `edgefit recover` with the same
// flags trains — the adapter bytes are equal — and writes the merged GGUF in the base's types.
// Tiny runs on stories260K (Q2_K base, f32 teacher): seconds.
#include "pipeline/recover_step.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../cli/run_command.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "test_data.h"

namespace edgefit {
namespace {

const std::string kBase = "models/stories260K/gguf/quantized/stories260K-Q2_K.gguf";
const std::string kTeacher = "models/stories260K/gguf/stories260K-f32.gguf";
const std::string kText = "text/tinystories/TinyStories-valid.head31k.txt";

Recipe recipe_with(const std::string& recovery) {
  return parse_recipe(R"({"schema_version": 1, "base": "q2_k", "recovery": [)" + recovery + "]}",
                      "r.json");
}

std::string settings_error(const std::string& recovery) {
  int ctx = 0;
  try {
    recovery_settings(recipe_with(recovery), 0, "r.json", ctx);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RecoverStep, ParamsBecomeTheRunsSettings) {
  int ctx = 0;
  const train::RecoverSettings s = recovery_settings(
      recipe_with(R"({"kind": "lora", "params": {"rank": 8, "alpha": 8, "targets": ["q", "v"],
                     "steps": 30, "minutes": 2.5, "lr": 5e-4, "warmup": 3, "kd_weight": 0.5,
                     "temperature": 1, "seed": 7, "ctx": 128}})"),
      0, "r.json", ctx);
  EXPECT_EQ(s.lora.rank, 8);
  EXPECT_EQ(s.lora.alpha, 8.0);
  EXPECT_EQ(s.lora.targets, (std::vector<std::string>{"q", "v"}));
  EXPECT_EQ(s.steps, 30);
  EXPECT_EQ(s.minutes, 2.5);
  EXPECT_EQ(s.lr, 5e-4);
  EXPECT_EQ(s.warmup, 3);
  EXPECT_EQ(s.kd_weight, 0.5);
  EXPECT_EQ(s.temperature, 1.0);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.lora.seed, 7u);  // the CLI's --seed sets both too
  EXPECT_EQ(ctx, 128);
  // Left out: train/recover.h's defaults, and the window length left to the model.
  const train::RecoverSettings d =
      recovery_settings(recipe_with(R"({"kind": "lora"})"), 0, "r", ctx);
  const train::RecoverSettings defaults;
  EXPECT_EQ(d.lora.rank, defaults.lora.rank);
  EXPECT_EQ(d.lr, defaults.lr);
  EXPECT_EQ(d.warmup, -1);
  EXPECT_EQ(ctx, 0);
}

TEST(RecoverStep, BadParamsNameTheField) {
  EXPECT_EQ(settings_error(R"({"kind": "lora", "params": {"rnk": 8}})"),
            "r.json: recovery[0].params.rnk: unknown parameter (known: rank, alpha, targets, "
            "steps, minutes, lr, warmup, kd_weight, temperature, seed, ctx, optim_bits)");
  EXPECT_EQ(settings_error(R"({"kind": "lora", "params": {"rank": "8"}})"),
            "r.json: recovery[0].params.rank: expected an integer");
  EXPECT_EQ(settings_error(R"({"kind": "lora", "params": {"rank": 0}})"),
            "r.json: recovery[0].params.rank: must be at least 1");
  EXPECT_EQ(settings_error(R"({"kind": "lora", "params": {"targets": "q"}})"),
            "r.json: recovery[0].params.targets: expected a list of names");
  EXPECT_EQ(settings_error(R"({"kind": "lora", "params": {"kd_weight": 2}})"),
            "r.json: recovery[0].params.kd_weight: must be within 0 … 1");
  EXPECT_EQ(settings_error(R"({"kind": "lora", "params": {"lr": -1}})"),
            "r.json: recovery[0].params.lr: must be positive");
  EXPECT_EQ(settings_error(R"({"kind": "qat"})"),
            "r.json: recovery[0].kind: the qat recovery step is not implemented yet (lora is)");
}

TEST(RecoverStep, TrainsWhatRecoverTrainsAndWritesTheMergedModel) {
  const std::string dir = test::scratch_dir("recover-step");
  RecoveryInputs in;
  in.compressed = test::shared_path(kBase);
  in.teacher = test::shared_path(kTeacher);
  in.data = {test::shared_path(kText)};
  in.adapter_out = dir + "/step.gguf";
  in.merged_out = dir + "/merged.gguf";
  in.progress = false;
  const Recipe recipe = recipe_with(
      R"({"kind": "lora", "params": {"rank": 4, "targets": ["q", "v", "down"], "steps": 5,
                                     "ctx": 64, "seed": 3}})");
  const train::RecoverResult r = apply_recovery_step(recipe, 0, "r.json", in);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.next_step, 5);
  EXPECT_EQ(r.tokens, 5 * 64);
  EXPECT_EQ(r.merged_tensors, 3 * 5);  // 3 projections × 5 layers

  const auto cli = test::run_edgefit({"recover", in.compressed, "--teacher", in.teacher, "--data",
                                      in.data[0], "--rank", "4", "--targets", "q,v,down", "--steps",
                                      "5", "--ctx", "64", "--seed", "3", "-o", dir + "/cli.gguf"});
  ASSERT_EQ(cli.status, 0) << cli.err;
  EXPECT_EQ(test::slurp(in.adapter_out), test::slurp(dir + "/cli.gguf"));

  GgufFile base(in.compressed), merged(in.merged_out);
  ASSERT_EQ(merged.tensors().size(), base.tensors().size());
  for (size_t i = 0; i < base.tensors().size(); ++i)
    EXPECT_EQ(merged.tensors()[i].type, base.tensors()[i].type) << base.tensors()[i].name;
  EXPECT_NE(test::slurp(in.merged_out), test::slurp(in.compressed));
  EXPECT_FALSE(std::filesystem::exists(in.adapter_out + ".ckpt.safetensors"));
}

}  // namespace
}  // namespace edgefit
