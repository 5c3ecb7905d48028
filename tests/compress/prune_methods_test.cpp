// The pruning methods (magnitude, Wanda, SparseGPT) as registry entries on the layer-streaming
// driver, on the polyglot model: every block's linear weights come out with exactly the pattern's
// zeros (checked by counting, independently of the mask code), the other tensors untouched,
// SparseGPT into Q4_0 prunes and quantizes in one pass with exact zeros, a stopped run resumes
// with identical bytes, OWL's per-layer sparsities differ and average the target, and bad
// requests fail before anything is written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "compress/calibrated_quantize.h"
#include "compress/method_registry.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "methods/quantize_recipe.h"
#include "odd_ffn_model.h"
#include "polyglot_fixture.h"
#include "prune/sparse_formats.h"
#include "qmask62_runs.h"
#include "quant/quant_traits.h"
#include "recipe/recipe.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;
using test::scratch_dir;
using test::small_calibrated;

const std::string& kF32 = test::kPolyglotF32;

QuantizeOptions pruned_to(const std::string& pattern, const std::string& preset = "f32") {
  QuantizeOptions qo;
  qo.preset = preset;
  SparsityRule r;
  r.pattern = pattern;
  r.source = "--sparsity";
  qo.sparsity.push_back(r);
  return qo;
}

// A tensor's values as f32, [rows, cols].
std::vector<float> values(const Model& m, const std::string& name) {
  const TensorView& v = m.get(name).view;
  std::vector<float> out(static_cast<size_t>(v.n_rows() * v.row_size()));
  dequantize_tensor(v.dtype, v.data, v.n_rows(), v.row_size(), out.data());
  return out;
}

int64_t zeros_in(const float* x, int64_t n) {
  int64_t z = 0;
  for (int64_t i = 0; i < n; ++i) z += x[i] == 0.f;
  return z;
}

// Every block linear weight of `m`: exactly (m−n) zeros in every group of m inputs, or with
// `rounded` at least that many (a kept weight may also round to the zero code).
void expect_n_of_m(const Model& m, int n, int group, bool rounded = false) {
  for (int l = 0; l < m.config.n_layers; ++l)
    for (const std::string& name : block_linear_names(l)) {
      const std::vector<float> w = values(m, name);
      for (size_t g = 0; g < w.size(); g += static_cast<size_t>(group)) {
        if (rounded)
          ASSERT_GE(zeros_in(w.data() + g, group), group - n) << name << " group " << g / group;
        else
          ASSERT_EQ(zeros_in(w.data() + g, group), group - n) << name << " group " << g / group;
      }
    }
}

TEST(PruneMethods, RegisteredAsPruningMethods) {
  for (const char* name : {"magnitude", "wanda", "sparsegpt"}) {
    const CalibMethod* m = find_calib_method(name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_TRUE(m->prunes) << name;
  }
  EXPECT_FALSE(find_calib_method("gptq")->prunes);
  EXPECT_EQ(pruning_method_names(), "magnitude, wanda, sparsegpt");
  const auto& recipe_names = recipe_method_names();
  EXPECT_NE(std::find(recipe_names.begin(), recipe_names.end(), "sparsegpt"), recipe_names.end());
}

TEST(PruneMethods, MagnitudeTwoOfFourNeedsNoCalibrationAndKeepsTheLargest) {
  const std::string dir = scratch_dir("prune-magnitude");
  CalibratedOptions co = small_calibrated("magnitude", dir + "/w");
  co.calib_files.clear();  // magnitude reads no text
  quantize_model_calibrated(kF32, dir + "/o.gguf", pruned_to("2:4"), co);
  const Model src = load_model(kF32), out = load_model(dir + "/o.gguf");
  expect_n_of_m(out, 2, 4);
  // The kept two of each group are the two largest |w| of the source, unchanged.
  const std::string name = "blk.3.ffn_down.weight";
  const std::vector<float> a = values(src, name), b = values(out, name);
  for (size_t g = 0; g < a.size(); g += 4) {
    float smallest_kept = INFINITY, largest_pruned = 0;
    for (size_t i = g; i < g + 4; ++i) {
      if (b[i] == 0.f) {
        largest_pruned = std::max(largest_pruned, std::fabs(a[i]));
      } else {
        EXPECT_EQ(b[i], a[i]);
        smallest_kept = std::min(smallest_kept, std::fabs(a[i]));
      }
    }
    ASSERT_GE(smallest_kept, largest_pruned) << "group " << g / 4;
  }
  // Everything that is not a block linear weight is the source's.
  for (const char* t : {"token_embd.weight", "output.weight", "blk.0.attn_norm.weight"})
    EXPECT_EQ(values(src, t), values(out, t)) << t;
  const GgufFile f(dir + "/o.gguf");
  ASSERT_NE(f.find("edgefit.prune.method"), nullptr);
  EXPECT_EQ(f.find("edgefit.prune.method")->str, "magnitude");
  EXPECT_EQ(f.find("edgefit.calibration.files"), nullptr);
}

TEST(PruneMethods, WandaHalvesEveryRowAndDiffersFromMagnitude) {
  const std::string dir = scratch_dir("prune-wanda");
  quantize_model_calibrated(kF32, dir + "/w.gguf", pruned_to("0.5"),
                            small_calibrated("wanda", dir + "/w1"));
  const Model out = load_model(dir + "/w.gguf");
  for (int l = 0; l < out.config.n_layers; ++l)
    for (const std::string& name : block_linear_names(l)) {
      const TensorView& v = out.get(name).view;
      const std::vector<float> w = values(out, name);
      for (int64_t r = 0; r < v.n_rows(); ++r)
        ASSERT_EQ(zeros_in(w.data() + r * v.row_size(), v.row_size()), v.row_size() / 2)
            << name << " row " << r;
    }
  // Activations change the choice: Wanda's mask is not magnitude's per-row mask.
  CalibratedOptions mag = small_calibrated("magnitude", dir + "/w2");
  quantize_model_calibrated(kF32, dir + "/m.gguf", pruned_to("0.5"), mag);
  EXPECT_NE(values(out, "blk.0.attn_q.weight"),
            values(load_model(dir + "/m.gguf"), "blk.0.attn_q.weight"));
}

TEST(PruneMethods, SparseGptJointIntoQ4_0HasExactZerosAndResumes) {
  const std::string dir = scratch_dir("prune-sparsegpt");
  QuantizeOptions qo = pruned_to("2:4", "q4_0");
  const std::string full = dir + "/full.gguf";
  quantize_model_calibrated(kF32, full, qo, small_calibrated("sparsegpt", dir + "/w1"));
  const Model out = load_model(full);
  EXPECT_EQ(out.get("blk.2.ffn_up.weight").view.dtype, DType::Q4_0);
  expect_n_of_m(out, 2, 4, true);  // Q4_0's zero code dequantizes to exactly 0
  // Few kept weights round to zero: the pruned ones are zeros because they were pruned.
  const std::vector<float> w = values(out, "blk.2.ffn_up.weight");
  EXPECT_LT(zeros_in(w.data(), static_cast<int64_t>(w.size())),
            static_cast<int64_t>(w.size() * 0.55));

  CalibratedOptions co = small_calibrated("sparsegpt", dir + "/w2");
  co.stop_after_block = 2;
  const std::string resumed = dir + "/resumed.gguf";
  EXPECT_THROW(quantize_model_calibrated(kF32, resumed, qo, co), Error);
  EXPECT_FALSE(fs::exists(resumed));
  co.stop_after_block = -1;
  CalibratedReport rep;
  quantize_model_calibrated(kF32, resumed, qo, co, &rep);
  EXPECT_EQ(rep.pipeline.first_block_run, 3);
  EXPECT_EQ(test::slurp(full), test::slurp(resumed));
}

TEST(PruneMethods, SparseGptUpdatesTheKeptWeights) {
  const std::string dir = scratch_dir("prune-sparsegpt-f32");
  quantize_model_calibrated(kF32, dir + "/o.gguf", pruned_to("0.5"),
                            small_calibrated("sparsegpt", dir + "/w"));
  const std::vector<float> a = values(load_model(kF32), "blk.1.attn_v.weight");
  const std::vector<float> b = values(load_model(dir + "/o.gguf"), "blk.1.attn_v.weight");
  EXPECT_EQ(zeros_in(b.data(), static_cast<int64_t>(b.size())), static_cast<int64_t>(b.size() / 2));
  int64_t moved = 0;
  for (size_t i = 0; i < a.size(); ++i) moved += b[i] != 0.f && b[i] != a[i];
  EXPECT_GT(moved, static_cast<int64_t>(a.size() / 4));  // OBS compensation moved the survivors
}

TEST(PruneMethods, OwlSparsitiesDifferPerLayerAndAverageTheTarget) {
  const std::string dir = scratch_dir("prune-owl");
  CalibratedOptions co = small_calibrated("wanda", dir + "/w");
  co.owl.enabled = true;
  quantize_model_calibrated(kF32, dir + "/o.gguf", pruned_to("0.7"), co);
  const Model out = load_model(dir + "/o.gguf");
  int64_t zeros = 0, total = 0;
  std::vector<double> per_layer;
  for (int l = 0; l < out.config.n_layers; ++l) {
    int64_t z = 0, n = 0;
    for (const std::string& name : block_linear_names(l)) {
      const std::vector<float> w = values(out, name);
      z += zeros_in(w.data(), static_cast<int64_t>(w.size()));
      n += static_cast<int64_t>(w.size());
    }
    per_layer.push_back(static_cast<double>(z) / static_cast<double>(n));
    zeros += z;
    total += n;
  }
  EXPECT_NEAR(static_cast<double>(zeros) / static_cast<double>(total), 0.7, 0.002);
  const auto [lo, hi] = std::minmax_element(per_layer.begin(), per_layer.end());
  EXPECT_GT(*hi - *lo, 0.02);             // OWL moved sparsity between layers
  EXPECT_LE(*hi - *lo, 2 * 0.08 + 1e-3);  // within ±λ of the target
  EXPECT_EQ(GgufFile(dir + "/o.gguf").find("edgefit.prune.owl")->u, 1u);
}

TEST(PruneMethods, TwoOfFourOnRowsNotWholeGroupsNamesTheTensorAndWritesNothing) {
  const std::string dir = scratch_dir("prune-odd");
  const std::string model = test::odd_ffn_model(dir + "/model");
  CalibratedOptions co = small_calibrated("magnitude", dir + "/w");
  co.calib_files.clear();
  try {
    quantize_model_calibrated(model, dir + "/o.gguf", pruned_to("2:4"), co);
    FAIL() << "2:4 on 130-wide rows was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_down.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("130"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
  EXPECT_FALSE(fs::exists(dir + "/w"));
  // Unstructured pruning has no groups: the same model prunes.
  quantize_model_calibrated(model, dir + "/o.gguf", pruned_to("0.5"), co);
  EXPECT_TRUE(fs::exists(dir + "/o.gguf"));
  // A recipe asking 2:4 there fails at validation, naming the field.
  const Recipe r = parse_recipe(
      R"({"schema_version": 1, "base": "f32", "method": {"name": "magnitude"},
          "rules": [{"match": "ffn_down", "sparsity": {"kind": "n:m", "n": 2, "m": 4}}]})",
      "r.json");
  try {
    check_recipe_against_model(r, load_model(model), "r.json");
    FAIL() << "the recipe was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rules[0].sparsity"), std::string::npos) << e.what();
  }
}

TEST(PruneMethods, RejectsBadRequests) {
  const std::string dir = scratch_dir("prune-bad");
  const std::string out = dir + "/o.gguf";
  // A pruning method without a sparsity, a quantization method with one.
  EXPECT_THROW(quantize_model_calibrated(kF32, out, QuantizeOptions{},
                                         small_calibrated("wanda", dir + "/w")),
               UsageError);
  EXPECT_THROW(
      quantize_model_calibrated(kF32, out, pruned_to("0.5"), small_calibrated("gptq", dir + "/w")),
      Error);
  // Wanda and SparseGPT need calibration text; so does magnitude with OWL.
  for (const char* m : {"wanda", "sparsegpt"}) {
    CalibratedOptions co = small_calibrated(m, dir + "/w");
    co.calib_files.clear();
    EXPECT_THROW(quantize_model_calibrated(kF32, out, pruned_to("0.5"), co), UsageError) << m;
  }
  CalibratedOptions co = small_calibrated("magnitude", dir + "/w");
  co.calib_files.clear();
  co.owl.enabled = true;
  EXPECT_THROW(quantize_model_calibrated(kF32, out, pruned_to("0.5"), co), UsageError);
  // OWL sets unstructured fractions: not N:M.
  co = small_calibrated("wanda", dir + "/w");
  co.owl.enabled = true;
  EXPECT_THROW(quantize_model_calibrated(kF32, out, pruned_to("2:4"), co), Error);
  // A pattern that is none; a group that does not divide 256.
  co.owl.enabled = false;
  EXPECT_THROW(quantize_model_calibrated(kF32, out, pruned_to("half"), co), Error);
  EXPECT_THROW(quantize_model_calibrated(kF32, out, pruned_to("1:3"), co), Error);
  // Only the blocks' linear weights prune: a rule naming the output head is an error.
  QuantizeOptions head = pruned_to("0.5");
  head.sparsity[0].match = "output";
  EXPECT_THROW(quantize_model_calibrated(kF32, out, head, co), Error);
  // The plain quantizer refuses pruning instead of dropping it.
  EXPECT_THROW(quantize_model(kF32, out, pruned_to("0.5")), Error);
  EXPECT_FALSE(fs::exists(out));
}

TEST(PruneMethods, RecipeSparsityRulesBecomePruningRules) {
  const Recipe r = parse_recipe(
      R"({"schema_version": 1, "base": "f16", "method": {"name": "wanda", "params": {"owl": true}},
          "rules": [{"match": "ffn_", "layers": [1, 2], "sparsity": {"kind": "n:m", "n": 2, "m": 4}},
                    {"match": "attn_q", "sparsity": {"kind": "unstructured", "fraction": 0.3}}]})",
      "r.json");
  const QuantizeOptions qo = quantize_options_from_recipe(r, "r.json");
  ASSERT_EQ(qo.sparsity.size(), 2u);
  EXPECT_EQ(qo.sparsity[0].pattern, "2:4");
  EXPECT_EQ(qo.sparsity[0].match, "ffn_");
  EXPECT_EQ(qo.sparsity[0].layer_first, 1);
  EXPECT_EQ(qo.sparsity[0].layer_last, 2);
  EXPECT_EQ(qo.sparsity[1].pattern, "0.29999999999999999");
  EXPECT_EQ(qo.sparsity[1].source, "r.json: rules[1].sparsity");
  CalibratedOptions co;
  apply_method_params(r.method, co, "r.json");
  EXPECT_EQ(co.method, "wanda");
  EXPECT_TRUE(co.owl.enabled);

  // Applied: only the matched weights are pruned, each to its rule's pattern.
  const std::string dir = scratch_dir("prune-recipe");
  QuantizeOptions q2 = qo;
  q2.preset = "f32";
  co = small_calibrated("wanda", dir + "/w");
  quantize_model_calibrated(kF32, dir + "/o.gguf", q2, co);
  const Model out = load_model(dir + "/o.gguf");
  const std::vector<float> up1 = values(out, "blk.1.ffn_up.weight"),
                           up0 = values(out, "blk.0.ffn_up.weight"),
                           q = values(out, "blk.4.attn_q.weight");
  EXPECT_EQ(zeros_in(up1.data(), static_cast<int64_t>(up1.size())),
            static_cast<int64_t>(up1.size() / 2));
  EXPECT_EQ(zeros_in(up0.data(), static_cast<int64_t>(up0.size())), 0);
  EXPECT_EQ(zeros_in(q.data(), static_cast<int64_t>(q.size())),
            static_cast<int64_t>(q.size()) / 256 * 76);  // floor(0.3 · 256) per row

  // Structured keep-lists stay refused where the recipe is applied.
  const Recipe s = parse_recipe(
      R"({"schema_version": 1, "base": "f16", "method": {"name": "wanda"},
          "rules": [{"match": "ffn_", "sparsity": {"kind": "structured", "keep_layers": [0]}}]})",
      "s.json");
  EXPECT_THROW(quantize_options_from_recipe(s, "s.json"), Error);
}

// SparseGPT into a sparse type through the driver: one joint pass on the type's grid (the file
// says "joint"), 2:4 kept in every group of the stored weights.
TEST(PruneMethods, SparseGptJointIntoQ4_2of4) {
  const std::string dir = scratch_dir("prune-sgpt-2of4");
  QuantizeOptions qo = pruned_to("2:4", "q4_0");
  qo.rules.push_back(sparse_block_override(DType::Q4_2OF4));
  quantize_model_calibrated(kF32, dir + "/o.gguf", qo, small_calibrated("sparsegpt", dir + "/w"));
  const GgufFile f(dir + "/o.gguf");
  EXPECT_EQ(f.find_tensor("blk.1.attn_v.weight")->type, DType::Q4_2OF4);
  EXPECT_EQ(f.get_string("edgefit.prune.sparse_values"), "joint");
  expect_n_of_m(load_model(dir + "/o.gguf"), 2, 4, /*rounded=*/true);
}

// Pruned by `method` at 0.625 into q4_qmask62: every slot half of every block keeps exactly 48
// (qmask62_runs.h reads the stored masks), 96 per block, and SparseGPT (masks chosen column block
// by column block, so per aligned 32-input run) at most 12 per run, counted on the decoded weights
// too (a kept weight may read as 0, a pruned one always does). Magnitude and Wanda choose each
// half whole. With masks per 256-block alone (before
// session 16) 42 % of the runs kept more than 12 (up to 29) and 45 % of the slot halves more than
// 48 (Wanda and SparseGPT, polyglot at 0.625 with the full calibration).
void expect_qmask62_runs(const std::string& method) {
  const std::string dir = scratch_dir("prune-qmask62-runs-" + method);
  QuantizeOptions qo = pruned_to("0.625", "q4_0");
  qo.rules.push_back(sparse_block_override(DType::Q4_QMASK62));
  CalibratedOptions co = small_calibrated(method, dir + "/w");
  if (method == "magnitude") co.calib_files.clear();
  quantize_model_calibrated(kF32, dir + "/o.gguf", qo, co);
  const GgufFile f(dir + "/o.gguf");
  const Model m = load_model(dir + "/o.gguf");
  for (int l = 0; l < m.config.n_layers; ++l)
    for (const std::string& name : block_linear_names(l)) {
      const GgufTensorInfo* t = f.find_tensor(name);
      ASSERT_EQ(t->type, DType::Q4_QMASK62) << name;
      const int64_t n = static_cast<int64_t>(t->ne[0] * t->ne[1]);
      const test::QMask62Counts c = test::qmask62_counts(f.tensor_data(*t), n / kSparseBlock);
      EXPECT_EQ(c.blocks, n / kSparseBlock) << name;
      EXPECT_LE(c.max_half, 48) << name;
      EXPECT_EQ(c.kept, c.blocks * 96) << name;  // 0.625 prunes exactly 80 of every half
      if (method != "sparsegpt") continue;
      EXPECT_LE(c.max_run, 12) << name;
      const std::vector<float> w = values(m, name);
      for (size_t r = 0; r < w.size(); r += 32)
        ASSERT_GE(zeros_in(w.data() + r, 32), 20) << name << " run " << r / 32;
    }
}

TEST(PruneMethods, MagnitudeIntoQ4_QMask62Keeps48PerSlotHalf) {
  expect_qmask62_runs("magnitude");
}

TEST(PruneMethods, WandaIntoQ4_QMask62Keeps48PerSlotHalf) {
  expect_qmask62_runs("wanda");
}

TEST(PruneMethods, SparseGptIntoQ4_QMask62KeepsAtMost12Per32) {
  expect_qmask62_runs("sparsegpt");
}

// A recipe rule with a sparse format and a sparsity prunes into that format (masks per 256-block,
// q4_qmask62 per 32-input run);
// one whose blocks cannot hold the pattern is an Error naming the tensor before anything is
// written.
TEST(PruneMethods, RecipeSparseFormatRules) {
  const std::string dir = scratch_dir("prune-recipe-sparse");
  const Recipe r = parse_recipe(
      R"({"schema_version": 1, "base": "q4_0", "method": {"name": "magnitude"},
          "rules": [{"match": "ffn_", "format": "q4_2of4", "sparsity": {"kind": "n:m", "n": 2, "m": 4}},
                    {"match": "attn_q", "format": "q4_qmask62",
                     "sparsity": {"kind": "unstructured", "fraction": 0.625}}]})",
      "r.json");
  const CalibratedOptions co = small_calibrated("magnitude", dir + "/w");
  quantize_model_calibrated(kF32, dir + "/o.gguf", quantize_options_from_recipe(r, "r.json"), co);
  const GgufFile f(dir + "/o.gguf");
  EXPECT_EQ(f.find_tensor("blk.2.ffn_down.weight")->type, DType::Q4_2OF4);
  EXPECT_EQ(f.find_tensor("blk.2.attn_q.weight")->type, DType::Q4_QMASK62);
  EXPECT_EQ(f.find_tensor("blk.2.attn_k.weight")->type, DType::Q4_0);
  ASSERT_NE(f.find("edgefit.prune.sparse_values"), nullptr);
  // Every 256-block of attn_q keeps exactly 96 (0.625 per block, not only per row).
  const Model m = load_model(dir + "/o.gguf");
  const std::vector<float> q = values(m, "blk.2.attn_q.weight");
  for (size_t b = 0; b < q.size(); b += 256)
    EXPECT_GE(zeros_in(q.data() + b, 256), 160) << "block " << b / 256;

  const Recipe bad = parse_recipe(
      R"({"schema_version": 1, "base": "q4_0", "method": {"name": "magnitude"},
          "rules": [{"match": "ffn_up", "format": "q4_qmask62", "sparsity": {"kind": "n:m", "n": 2, "m": 4}}]})",
      "bad.json");
  try {
    quantize_model_calibrated(kF32, dir + "/bad.gguf",
                              quantize_options_from_recipe(bad, "bad.json"),
                              small_calibrated("magnitude", dir + "/wb"));
    FAIL() << "2:4 was stored as q4_qmask62";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ffn_up.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("q4_qmask62"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/bad.gguf"));
  // A sparse format on a weight no rule prunes: the quantizer's error names the weight.
  const Recipe dense = parse_recipe(
      R"({"schema_version": 1, "base": "q4_0", "method": {"name": "magnitude"},
          "rules": [{"match": "ffn_up", "format": "q4_2of4"},
                    {"match": "attn_q", "sparsity": {"kind": "n:m", "n": 2, "m": 4}}]})",
      "dense.json");
  try {
    quantize_model_calibrated(kF32, dir + "/dense.gguf",
                              quantize_options_from_recipe(dense, "dense.json"),
                              small_calibrated("magnitude", dir + "/wd"));
    FAIL() << "dense weights were stored as q4_2of4";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/dense.gguf"));
}

}  // namespace
}  // namespace edgefit
