// The method registry: every method is found by its name with all the hooks the driver calls,
// recipe parameters land in the method's settings, and what a method does not have is an Error
// naming the field.
#include "compress/method_registry.h"

#include <gtest/gtest.h>

#include "compress/methods/awq/awq_block.h"
#include "compress/methods/gptq/gptq_block.h"
#include "compress/methods/smoothquant/smoothquant_block.h"
#include "core/error.h"

namespace edgefit {
namespace {

TEST(MethodRegistry, ListsEveryMethodWithItsHooks) {
  EXPECT_EQ(calib_method_names(), "gptq, awq, smoothquant, magnitude, wanda, sparsegpt");
  for (const CalibMethod* m : calib_methods()) {
    SCOPED_TRACE(std::string(m->name));
    EXPECT_EQ(find_calib_method(m->name), m);
    ASSERT_TRUE(m->make && m->metadata && m->read_param);
    CalibratedOptions co;
    co.method = std::string(m->name);
    EXPECT_EQ(make_block_method(co)->name(), m->name);
    EXPECT_FALSE(m->metadata(co).empty());
  }
  EXPECT_EQ(find_calib_method("rtn"), nullptr);
  CalibratedOptions bad;
  bad.method = "magic";
  EXPECT_THROW(make_block_method(bad), UsageError);
}

TEST(MethodRegistry, RecipeParamsLandInTheSettings) {
  CalibratedOptions co;
  MethodSpec gptq{"gptq",
                  {{"damp", 0.05}, {"act_order", true}, {"block_size", 64}, {"samples", 16}}};
  apply_method_params(gptq, co, "r.json");
  EXPECT_EQ(co.method, "gptq");
  EXPECT_DOUBLE_EQ(co.params.get<GptqParams>().damp, 0.05);
  EXPECT_TRUE(co.params.get<GptqParams>().act_order);
  EXPECT_EQ(co.params.get<GptqParams>().block_size, 64);
  EXPECT_EQ(co.samples, 16);
  apply_method_params({"awq", {{"grid", 10}, {"sample_tokens", 1024}}}, co, "r.json");
  EXPECT_EQ(co.params.get<AwqParams>().grid, 10);
  EXPECT_EQ(co.params.get<AwqParams>().sample_tokens, 1024);
  apply_method_params({"smoothquant", {{"alpha", 0.75}, {"seqlen", 64}}}, co, "r.json");
  EXPECT_DOUBLE_EQ(co.params.get<SmoothQuantParams>().alpha, 0.75);
  EXPECT_EQ(co.seqlen, 64);
}

TEST(MethodRegistry, UnknownOrMistypedParamsNameTheField) {
  auto message = [](const MethodSpec& spec) {
    CalibratedOptions co;
    try {
      apply_method_params(spec, co, "r.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message({"awq", {{"damp", 0.1}}}),
            "r.json: method.params.damp: unknown parameter for awq");
  EXPECT_EQ(message({"gptq", {{"act_order", 1}}}),
            "r.json: method.params.act_order: must be true or false");
  EXPECT_EQ(message({"gptq", {{"block_size", -4}}}),
            "r.json: method.params.block_size: must be a positive integer");
  EXPECT_EQ(message({"smoothquant", {{"alpha", "half"}}}),
            "r.json: method.params.alpha: must be a number");
}

TEST(MethodRegistry, SettingsAreValuesPerMethodAndDefaultUntilSet) {
  CalibratedOptions co;
  EXPECT_DOUBLE_EQ(co.params.get<GptqParams>().damp, 0.01);  // the method's default
  co.params.of<GptqParams>().damp = 0.2;
  co.params.of<SmoothQuantParams>().alpha = 0.9;
  CalibratedOptions copy = co;  // a deep copy: changing one leaves the other
  copy.params.of<GptqParams>().damp = 0.3;
  EXPECT_DOUBLE_EQ(co.params.get<GptqParams>().damp, 0.2);
  EXPECT_DOUBLE_EQ(copy.params.get<GptqParams>().damp, 0.3);
  EXPECT_DOUBLE_EQ(copy.params.get<SmoothQuantParams>().alpha, 0.9);
  EXPECT_EQ(copy.params.get<AwqParams>().grid, 20);
}

TEST(MethodRegistry, EachFlagIsAParameterItsMethodReads) {
  // The CLI registers these flags by the registry alone; each must name a parameter its own
  // method's read_param accepts, so --act-order and --sq-alpha reach the settings.
  size_t flags = 0;
  for (const CalibMethod* m : calib_methods())
    for (const MethodFlag& f : m->flags) {
      SCOPED_TRACE(std::string(f.name));
      ++flags;
      CalibratedOptions co;
      const nlohmann::ordered_json v =
          f.kind == MethodFlag::Kind::kSwitch    ? nlohmann::ordered_json(true)
          : f.kind == MethodFlag::Kind::kInteger ? nlohmann::ordered_json(7)
                                                 : nlohmann::ordered_json(0.7);
      EXPECT_TRUE(m->read_param(f.param, v, std::string(f.name), "", co));
      ASSERT_TRUE(m->describe);
      // The setting changed the work directory's key: a changed flag starts the run afresh.
      EXPECT_NE(m->describe(co), m->describe(CalibratedOptions{}));
    }
  EXPECT_EQ(flags, 2u);  // --act-order (gptq), --sq-alpha (smoothquant)
}

}  // namespace
}  // namespace edgefit
