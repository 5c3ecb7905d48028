// A recipe applied by the quantizer: a preset's recipe plans exactly what the preset plans, a
// rule with a layer range changes only the tensors in that range, and what the quantizer cannot
// carry out yet is refused naming the field.
#include "methods/quantize_recipe.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "recipe/preset_recipe.h"
#include "test_data.h"

namespace edgefit {
namespace {

const std::string kPoly = "models/polyglot/gguf/polyglot-f32.gguf";

TEST(QuantizeRecipe, PresetRecipePlansLikeThePreset) {
  QuantizeOptions direct;
  direct.preset = "q3_k_m";
  const QuantizePlan a = plan_quantization(test::shared_path(kPoly), direct);
  const QuantizePlan b = plan_quantization(
      test::shared_path(kPoly), quantize_options_from_recipe(recipe_from_preset("q3_k_m"), "r"));
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].to, b.tensors[i].to) << a.tensors[i].name;
  }
  EXPECT_EQ(a.ftype, b.ftype);
}

TEST(QuantizeRecipe, LayerRangeLimitsARule) {
  const Recipe r = parse_recipe(R"({"schema_version": 1, "base": "q4_0",
      "rules": [{"match": "ffn_down", "layers": [1, 2], "format": "q8_0"}]})",
                                "r.json");
  const QuantizePlan plan =
      plan_quantization(test::shared_path(kPoly), quantize_options_from_recipe(r, "r.json"));
  int changed = 0;
  for (const auto& t : plan.tensors) {
    if (t.name.find("ffn_down") == std::string::npos) continue;
    const bool in_range = t.name.starts_with("blk.1.") || t.name.starts_with("blk.2.");
    EXPECT_EQ(t.to, in_range ? DType::Q8_0 : DType::Q4_0) << t.name;
    if (in_range) {
      EXPECT_EQ(t.note, "recipe rules[0] Q8_0");
      ++changed;
    }
  }
  EXPECT_EQ(changed, 2);
}

TEST(QuantizeRecipe, RefusesWhatIsNotImplementedYet) {
  auto message = [](const std::string& extra) {
    try {
      quantize_options_from_recipe(
          parse_recipe(R"({"schema_version": 1, "base": "q4_0", )" + extra + "}", "r.json"),
          "r.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(
      message(
          R"("rules": [{"match": "x", "sparsity": {"kind": "structured", "keep_layers": [0]}}])"),
      "r.json: rules[0].sparsity: structured pruning (keep-lists) is not implemented yet");
  // Unstructured and N:M become pruning rules; the plain quantizer refuses to drop them.
  const QuantizeOptions o = quantize_options_from_recipe(
      parse_recipe(R"({"schema_version": 1, "base": "q4_0", "rules": [{"match": "x", )"
                   R"("sparsity": {"kind": "n:m", "n": 2, "m": 4}}]})",
                   "r.json"),
      "r.json");
  ASSERT_EQ(o.sparsity.size(), 1u);
  EXPECT_EQ(o.sparsity[0].pattern, "2:4");
  try {
    quantize_model(test::shared_path("models/polyglot/gguf/polyglot-f32.gguf"),
                   test::scratch_dir("recipe-sparsity") + "/o.gguf", o);
    ADD_FAILURE() << "the plain quantizer dropped the sparsity";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "r.json: rules[0].sparsity: pruning needs a pruning method (magnitude, wanda, "
              "sparsegpt)");
  }
  EXPECT_EQ(message(R"("recovery": [{"kind": "lora"}])"),
            "r.json: recovery[0].kind: training steps (lora) are not run by this command; remove "
            "them to quantize");
  EXPECT_EQ(message(R"("rules": [{"match": "x", "method": {"name": "gptq"}}])"),
            "r.json: rules[0].method: a per-tensor method other than the recipe's ('rtn') is not "
            "supported yet");
  EXPECT_EQ(
      message(R"("rules": [{"match": "x", "packing": "none"}])"),
      "r.json: rules[0].packing: only 'default' (the runtime's load-time packing) exists yet");
}

// A caller that runs the lora steps itself (compress, through pipeline/recover_step.h) gets the
// quantization options; steps nobody runs yet are still refused, naming the step.
TEST(QuantizeRecipe, LoraStepsPassWhenTheCallerRunsThem) {
  const Recipe lora = parse_recipe(
      R"({"schema_version": 1, "base": "q4_0", "recovery": [{"kind": "lora"}]})", "r.json");
  EXPECT_EQ(quantize_options_from_recipe(lora, "r.json", true).preset, "q4_0");
  const Recipe qat = parse_recipe(
      R"({"schema_version": 1, "base": "q4_0", "recovery": [{"kind": "lora"}, {"kind": "qat"}]})",
      "r.json");
  try {
    quantize_options_from_recipe(qat, "r.json", true);
    ADD_FAILURE() << "a qat step was accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "r.json: recovery[1].kind: training steps (qat) are not implemented yet; remove "
                 "them to quantize");
  }
}

}  // namespace
}  // namespace edgefit
