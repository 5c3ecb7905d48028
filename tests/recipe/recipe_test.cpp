// Recipes: a full recipe survives write → read unchanged; every kind of bad recipe fails with
// one Error naming the file and the field; the model checks (layer range, N:M against the row
// width, keep-lists) use a real model's shapes (stories260K: 5 layers, 8 heads, FFN 172).
#include "recipe/recipe.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/model.h"
#include "recipe/preset_recipe.h"
#include "test_data.h"

namespace edgefit {
namespace {

const char* kFull = R"({
  "schema_version": 1, "name": "mixed", "base": "q4_k_m", "pure": false,
  "method": {"name": "gptq", "params": {"damp": 0.02, "act_order": true}},
  "rules": [
    {"match": "ffn_down", "layers": [0, 3], "format": "q6_k"},
    {"match": "attn_.*\\.weight", "sparsity": {"kind": "n:m", "n": 2, "m": 4}, "packing": "none"},
    {"match": "ffn_up", "sparsity": {"kind": "unstructured", "fraction": 0.5},
     "method": {"name": "rtn"}},
    {"match": "ffn_gate", "sparsity": {"kind": "structured", "keep_ffn": [0, 1, 5],
                                        "keep_heads": [2], "keep_layers": [0, 4]}}
  ],
  "recovery": [{"kind": "lora", "params": {"rank": 16}}, {"kind": "distill", "params": {}}],
  "export": [{"format": "gguf"}, {"format": "safetensors", "path": "out.safetensors"}],
  "device": "raspberry-pi-5"
})";

// The message of the Error parsing `text` throws ("" when it parses).
std::string parse_error(const std::string& text) {
  try {
    parse_recipe(text, "r.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Recipe, ReadsEveryField) {
  const Recipe r = parse_recipe(kFull, "r.json");
  EXPECT_EQ(r.name, "mixed");
  EXPECT_EQ(r.base, "q4_k_m");
  EXPECT_EQ(r.method.name, "gptq");
  EXPECT_DOUBLE_EQ(r.method.params["damp"].get<double>(), 0.02);
  ASSERT_EQ(r.rules.size(), 4u);
  EXPECT_EQ(r.rules[0].match, "ffn_down");
  EXPECT_EQ(r.rules[0].layer_first, 0);
  EXPECT_EQ(r.rules[0].layer_last, 3);
  EXPECT_EQ(r.rules[0].format, DType::Q6_K);
  EXPECT_EQ(r.rules[1].sparsity.kind, SparsityKind::kNM);
  EXPECT_EQ(r.rules[1].sparsity.n, 2);
  EXPECT_EQ(r.rules[1].sparsity.m, 4);
  EXPECT_EQ(r.rules[1].packing, "none");
  EXPECT_FALSE(r.rules[1].format.has_value());
  EXPECT_EQ(r.rules[2].sparsity.kind, SparsityKind::kUnstructured);
  EXPECT_DOUBLE_EQ(r.rules[2].sparsity.fraction, 0.5);
  ASSERT_TRUE(r.rules[2].method.has_value());
  EXPECT_EQ(r.rules[2].method->name, "rtn");
  EXPECT_EQ(r.rules[3].sparsity.kind, SparsityKind::kStructured);
  EXPECT_EQ(r.rules[3].sparsity.keep_ffn, (std::vector<int>{0, 1, 5}));
  EXPECT_EQ(r.rules[3].sparsity.keep_layers, (std::vector<int>{0, 4}));
  ASSERT_EQ(r.recovery.size(), 2u);
  EXPECT_EQ(r.recovery[0].kind, "lora");
  EXPECT_EQ(r.recovery[0].params["rank"].get<int>(), 16);
  ASSERT_EQ(r.exports.size(), 2u);
  EXPECT_EQ(r.exports[1].format, "safetensors");
  EXPECT_EQ(r.exports[1].path, "out.safetensors");
  EXPECT_EQ(r.device, "raspberry-pi-5");
}

TEST(Recipe, WriteThenReadGivesTheSameRecipe) {
  const Recipe r = parse_recipe(kFull, "r.json");
  const std::string text = recipe_to_json(r).dump(2);
  const Recipe again = parse_recipe(text, "again.json");
  EXPECT_EQ(recipe_to_json(again).dump(2), text);
  EXPECT_EQ(again.rules[0].layer_last, 3);
  EXPECT_EQ(again.rules[3].sparsity.keep_heads, (std::vector<int>{2}));
}

TEST(Recipe, WritesAtomicallyAndReadsBack) {
  const std::string dir = test::scratch_dir("recipe-write");
  const Recipe r = recipe_from_preset("Q3_K_M");
  write_recipe(r, dir + "/r.json");
  const Recipe back = read_recipe(dir + "/r.json");
  EXPECT_EQ(back.base, "q3_k_m");
  EXPECT_EQ(back.name, "q3_k_m");
  EXPECT_EQ(back.method.name, "rtn");
  EXPECT_TRUE(back.rules.empty());
}

TEST(Recipe, PresetRecipe) {
  const Recipe r = recipe_from_preset("q4_k_m", "imatrix");
  EXPECT_EQ(r.base, "q4_k_m");
  EXPECT_EQ(r.method.name, "imatrix");
  EXPECT_FALSE(r.pure);
  EXPECT_THROW(recipe_from_preset("q9_k"), UsageError);
}

TEST(Recipe, MinimalRecipeTakesDefaults) {
  const Recipe r = parse_recipe(R"({"schema_version": 1, "base": "Q8_0"})", "r.json");
  EXPECT_EQ(r.base, "q8_0");
  EXPECT_EQ(r.name, "q8_0");
  EXPECT_EQ(r.method.name, "rtn");
  EXPECT_TRUE(r.rules.empty() && r.recovery.empty() && r.exports.empty());
}

TEST(Recipe, ErrorsNameTheField) {
  const std::string head = R"({"schema_version": 1, "base": "q4_k_m", )";
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "a"}, {"match": "b"},
                                            {"match": "c", "format": "q9_k"}]})"),
            "r.json: rules[2].format: unknown format 'q9_k'");
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "a", "formt": "q4_0"}]})"),
            "r.json: rules[0].formt: unknown field 'formt'");
  EXPECT_EQ(parse_error(head + R"("methd": {"name": "rtn"}})"),
            "r.json: methd: unknown field 'methd'");
  EXPECT_EQ(parse_error(head + R"("method": {"name": "magic"}})"),
            "r.json: method.name: unknown method 'magic' (known: rtn, imatrix, gptq, awq, "
            "smoothquant, magnitude, wanda, sparsegpt)");
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "x", "method": {"name": "obc"}}]})"),
            "r.json: rules[0].method.name: unknown method 'obc' (known: rtn, imatrix, "
            "gptq, awq, smoothquant, magnitude, wanda, sparsegpt)");
  EXPECT_NE(parse_error(head + R"("rules": [{"match": "ffn_(down"}]})")
                .find("r.json: rules[0].match: invalid regex 'ffn_(down'"),
            std::string::npos);
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "x", "sparsity": {"kind": "n:m", "n": 4,
                                             "m": 4}}]})"),
            "r.json: rules[0].sparsity.n: must lie in 1 .. m-1");
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "x", "sparsity": {"kind": "unstructured",
                                             "fraction": 1.5}}]})"),
            "r.json: rules[0].sparsity.fraction: must lie strictly between 0 and 1");
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "x", "sparsity": {"kind": "n:m", "n": 2,
                                             "m": 4, "fraction": 0.5}}]})"),
            "r.json: rules[0].sparsity.fraction: unknown field 'fraction'");
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "x", "sparsity": {"kind": "blocky"}}]})"),
            "r.json: rules[0].sparsity.kind: unknown sparsity 'blocky' (known: none, "
            "unstructured, n:m, structured)");
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "x", "layers": [3, 1]}]})"),
            "r.json: rules[0].layers: needs 0 <= first <= last");
  EXPECT_EQ(parse_error(head + R"("rules": [{"match": "x", "sparsity": {"kind": "structured",
                                             "keep_heads": [1, 1]}}]})"),
            "r.json: rules[0].sparsity.keep_heads: repeats an index");
  EXPECT_EQ(parse_error(head + R"("recovery": [{"kind": "prune"}]})"),
            "r.json: recovery[0].kind: unknown recovery step 'prune' (known: lora, qat, distill)");
  EXPECT_EQ(parse_error(head + R"("export": [{"format": "onnx"}]})"),
            "r.json: export[0].format: unknown export format 'onnx' (known: gguf, safetensors)");
  EXPECT_EQ(parse_error(head + R"("pure": "yes"})"), "r.json: pure: must be true or false");
  EXPECT_EQ(parse_error(R"({"base": "q4_k_m"})"), "r.json: schema_version: missing");
  EXPECT_EQ(parse_error(R"({"schema_version": 2, "base": "q4_k_m"})"),
            "r.json: schema_version: version 2 is not supported (this edgefit reads 1)");
  EXPECT_NE(parse_error(R"({"schema_version": 1, "base": "q4_k_x"})")
                .find("r.json: base: unknown preset 'q4_k_x'"),
            std::string::npos);
  EXPECT_EQ(parse_error("[1, 2]"), "r.json: recipe: must be a JSON object");
  EXPECT_NE(parse_error("{\"schema_version\": 1,").find("r.json: not valid JSON"),
            std::string::npos);
  // nlohmann reports a number beyond double's range as out_of_range, not parse_error (found by
  // fuzz_recipe): still one Error.
  EXPECT_NE(parse_error(R"({"schema_version": 1, "name": 5.2e5555555555})")
                .find("r.json: not valid JSON"),
            std::string::npos);
}

class RecipeAgainstModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ =
        new Model(load_model(test::shared_path("models/stories260K/gguf/stories260K-f32.gguf")));
  }
  static void TearDownTestSuite() { delete model_; }
  // The message check_recipe_against_model throws for `rules_json` ("" when it passes).
  static std::string check(const std::string& rules_json) {
    const Recipe r = parse_recipe(
        R"({"schema_version": 1, "base": "q8_0", "rules": )" + rules_json + "}", "r.json");
    try {
      check_recipe_against_model(r, *model_, "r.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static Model* model_;
};
Model* RecipeAgainstModel::model_ = nullptr;

TEST_F(RecipeAgainstModel, AcceptsWhatTheModelHas) {
  ASSERT_EQ(model_->config.n_layers, 5);
  ASSERT_EQ(model_->config.d_ff, 172);
  EXPECT_EQ(check(R"([{"match": "ffn_down", "layers": [0, 4], "format": "f16"},
                      {"match": "attn_q", "layers": [1, 2], "format": "q8_0"},
                      {"match": "ffn_down", "sparsity": {"kind": "n:m", "n": 2, "m": 4}},
                      {"match": "attn_q", "sparsity": {"kind": "structured",
                        "keep_heads": [0, 7], "keep_layers": [4]}},
                      {"match": "no_such_tensor", "format": "q4_0"}])"),
            "");
}

TEST_F(RecipeAgainstModel, LayerRangeBeyondTheModel) {
  EXPECT_EQ(check(R"([{"match": "ffn_down", "layers": [2, 5]}])"),
            "r.json: rules[0].layers: layer 5 is beyond the model's 5 layers (0..4)");
}

TEST_F(RecipeAgainstModel, NMGroupsMustDivideTheRowWidth) {
  // ffn_down rows are the FFN width, 172 = 4 · 43: 2:4 fits, 2:8 does not.
  EXPECT_EQ(check(R"([{"match": "x", "layers": [0, 0]},
                      {"match": "ffn_down", "sparsity": {"kind": "n:m", "n": 2, "m": 8}}])"),
            "r.json: rules[1].sparsity: 2:8 groups do not divide the row width 172 of "
            "blk.0.ffn_down.weight");
}

TEST_F(RecipeAgainstModel, FormatMustFitTheRowWidth) {
  EXPECT_EQ(check(R"([{"match": "ffn_down", "format": "q4_k"}])"),
            "r.json: rules[0].format: q4_k blocks of 256 do not divide the row width 172 of "
            "blk.0.ffn_down.weight");
}

TEST_F(RecipeAgainstModel, KeepListsNameExistingUnits) {
  EXPECT_EQ(check(R"([{"match": "attn_q", "sparsity": {"kind": "structured",
                        "keep_heads": [0, 8]}}])"),
            "r.json: rules[0].sparsity.keep_heads: head 8 does not exist (the model has 8)");
  EXPECT_EQ(check(R"([{"match": "ffn", "sparsity": {"kind": "structured",
                        "keep_ffn": [172]}}])"),
            "r.json: rules[0].sparsity.keep_ffn: FFN channel 172 does not exist (the model has "
            "172)");
  EXPECT_EQ(check(R"([{"match": "ffn", "sparsity": {"kind": "structured",
                        "keep_layers": [5]}}])"),
            "r.json: rules[0].sparsity.keep_layers: layer 5 does not exist (the model has 5)");
}

}  // namespace
}  // namespace edgefit
