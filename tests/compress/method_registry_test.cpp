// The method registry: every method is found by its name with all the hooks the driver calls,
// recipe parameters land in the method's settings, and what a method does not have is an Error
// naming the field.
#include "compress/method_registry.h"

#include <gtest/gtest.h>

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
  EXPECT_DOUBLE_EQ(co.damp, 0.05);
  EXPECT_TRUE(co.act_order);
  EXPECT_EQ(co.gptq_block, 64);
  EXPECT_EQ(co.samples, 16);
  apply_method_params({"awq", {{"grid", 10}, {"sample_tokens", 1024}}}, co, "r.json");
  EXPECT_EQ(co.awq_grid, 10);
  EXPECT_EQ(co.awq_sample_tokens, 1024);
  apply_method_params({"smoothquant", {{"alpha", 0.75}, {"seqlen", 64}}}, co, "r.json");
  EXPECT_DOUBLE_EQ(co.sq_alpha, 0.75);
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

}  // namespace
}  // namespace edgefit
