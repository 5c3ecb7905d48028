// `edgefit prune` as a user runs it: a magnitude 2:4 model without calibration text, the usage
// errors (no --calib where it is needed, an unknown method), 2:4 on rows that are not whole groups
// (one error line naming the tensor, exit 1, nothing written), and the output path check. Then
// --type with a sparse storage type (q4_2of4, q4_qmask62): the block weights in it, the rest as
// the q4_0 preset, the mask of the f32 prune, eval and inspect on it, and the impossible combos.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <vector>

#include "formats/gguf.h"
#include "model/block_linears.h"
#include "odd_ffn_model.h"
#include "prune/score_prune.h"
#include "prune/sparse_formats.h"
#include "quant/quant_traits.h"
#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

const std::string kHf = test::shared_path("models/polyglot/hf");

TEST(PruneCommand, MagnitudeTwoOfFourWithoutCalibration) {
  const std::string dir = test::scratch_dir("cli-prune");
  const std::string out = dir + "/m24.gguf";
  const auto r = test::run_edgefit({"prune", kHf, out, "--method", "magnitude", "--sparsity", "2:4",
                                    "--type", "f32", "-t", "2"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + out), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("magnitude blocks"), std::string::npos) << r.err;  // progress lines
  EXPECT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".work"));
  // inspect --sparsity sees half of every block linear weight at zero.
  const auto i = test::run_edgefit({"inspect", "--json", "--sparsity", out});
  ASSERT_EQ(i.status, 0) << i.err;
  const auto j = nlohmann::json::parse(i.out);
  int linear = 0;
  for (const auto& t : j["tensors"]) {
    const std::string name = t["name"];
    if (name.find("blk.") == 0 && name.find("_norm") == std::string::npos) {
      EXPECT_DOUBLE_EQ(t["sparsity"].get<double>(), 0.5) << name;
      ++linear;
    } else if (name == "token_embd.weight") {
      EXPECT_LT(t["sparsity"].get<double>(), 0.01);
    }
  }
  EXPECT_EQ(linear, 6 * 7);
}

TEST(PruneCommand, UsageErrors) {
  const std::string dir = test::scratch_dir("cli-prune-usage");
  const std::string out = dir + "/o.gguf";
  auto r = test::run_edgefit({"prune", kHf, out, "--method", "wanda", "--sparsity", "0.5"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: usage error:", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("--calib"), std::string::npos) << r.err;
  r = test::run_edgefit({"prune", kHf, out, "--method", "gptq", "--sparsity", "0.5"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("magnitude, wanda, sparsegpt"), std::string::npos) << r.err;
  r = test::run_edgefit({"prune", kHf, out, "--method", "magnitude"});
  EXPECT_EQ(r.status, 2) << r.err;
  r = test::run_edgefit(
      {"prune", kHf, kHf + "/config.json", "--method", "magnitude", "--sparsity", "0.5"});
  EXPECT_EQ(r.status, 1) << r.err;  // the output would replace an input
  EXPECT_FALSE(fs::exists(out));
}

TEST(PruneCommand, TwoOfFourOnRowsNotWholeGroupsIsOneErrorLine) {
  const std::string dir = test::scratch_dir("cli-prune-odd");
  const std::string model = test::odd_ffn_model(dir + "/model");
  const std::string out = dir + "/o.gguf";
  const auto r = test::run_edgefit(
      {"prune", model, out, "--method", "magnitude", "--sparsity", "2:4", "--type", "f32"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: error:", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("blk.0.ffn_down.weight"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".work"));
}

// The f32 polyglot GGUF: the sparse prunes start from it so its tensors are the originals.
const std::string kF32 = test::shared_path("models/polyglot/gguf/polyglot-f32.gguf");

// One magnitude prune of polyglot per (sparsity, type), made once per test binary.
const std::string& pruned(const std::string& sparsity, const std::string& type) {
  static std::map<std::string, std::string> made;
  const std::string key = sparsity + "-" + type;
  auto it = made.find(key);
  if (it != made.end()) return it->second;
  static const std::string dir = test::scratch_dir("cli-prune-sparse");  // emptied once
  const std::string out = dir + "/" + (sparsity == "2:4" ? "24" : sparsity) + "-" + type + ".gguf";
  const auto r = test::run_edgefit({"prune", kF32, out, "--method", "magnitude", "--sparsity",
                                    sparsity, "--type", type, "--no-progress"});
  EXPECT_EQ(r.status, 0) << r.err;
  return made.emplace(key, out).first->second;
}

std::vector<float> dequantized(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  const int64_t cols = static_cast<int64_t>(t->ne[0]), rows = static_cast<int64_t>(t->ne[1]);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  dequantize_tensor(t->type, f.tensor_data(*t), rows, cols, w.data());
  return w;
}

double eval_ppl(const std::string& model) {
  const auto r = test::run_edgefit({"eval", model, "--text",
                                    test::shared_path("text/ntrex128/eval/eng-US.txt"), "--ctx",
                                    "64", "--max-chunks", "4", "--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.status == 0 ? nlohmann::json::parse(r.out)["ppl"].get<double>() : 0.0;
}

// The f32 prune's mask of a block weight (1 = pruned). 2:4: the `--type f32` prune's zeros; an
// unstructured fraction: magnitude per row block of the sparse type (256 inputs; q4_qmask62: per
// slot half, its two interleaved halves of 128), the comparison group it needs (the f32 prune
// compares the whole layer, so its mask is another).
std::vector<uint8_t> f32_prune_mask(const std::string& sparsity, DType type,
                                    const std::string& name) {
  std::vector<uint8_t> mask;
  if (sparsity == "2:4") {
    for (float v : dequantized(GgufFile(pruned(sparsity, "f32")), name)) mask.push_back(v == 0.0f);
    return mask;
  }
  const GgufFile src(kF32);
  const GgufTensorInfo* t = src.find_tensor(name);
  const std::vector<float> w = dequantized(src, name);
  return magnitude_prune(w.data(), static_cast<int64_t>(t->ne[1]), static_cast<int64_t>(t->ne[0]),
                         SparsityPattern::parse(sparsity),
                         type == DType::Q4_QMASK62
                             ? MaskGroup{MaskScope::kPerRowHalfBlock, 256}
                             : MaskGroup{MaskScope::kPerRowBlock, sparse_mask_block(type)})
      .pruned;
}

// The sparse file against the f32 and q4_0 prunes of the same sparsity.
void check_sparse_prune(const std::string& sparsity, const std::string& type, DType dtype) {
  const std::string sparse = pruned(sparsity, type), dense = pruned(sparsity, "q4_0");
  const GgufFile s(sparse), q(dense);
  ASSERT_NE(s.find("edgefit.sparse"), nullptr);
  ASSERT_NE(s.find("edgefit.prune.sparse_values"), nullptr);
  for (const auto& t : s.tensors()) {
    if (is_block_linear_weight(t.name)) {
      EXPECT_EQ(t.type, dtype) << t.name;
      // Every weight the f32 prune zeroes reads as exactly 0; a kept one may round to 0.
      const std::vector<float> ws = dequantized(s, t.name);
      const std::vector<uint8_t> mask = f32_prune_mask(sparsity, dtype, t.name);
      ASSERT_EQ(mask.size(), ws.size());
      int64_t zeros = 0, missed = 0, extra = 0;
      for (size_t i = 0; i < ws.size(); ++i) {
        zeros += mask[i];
        missed += mask[i] && ws[i] != 0.0f;
        extra += !mask[i] && ws[i] == 0.0f;
      }
      EXPECT_EQ(missed, 0) << t.name;
      EXPECT_GE(zeros, static_cast<int64_t>(ws.size()) / 2) << t.name;
      EXPECT_LT(extra, static_cast<int64_t>(ws.size()) / 20) << t.name;
    } else {  // token_embd, output, norms: as the q4_0 preset stores them
      EXPECT_EQ(t.type, q.find_tensor(t.name)->type) << t.name;
    }
  }
  EXPECT_LT(std::filesystem::file_size(sparse), std::filesystem::file_size(dense));
  // Same pattern, values rounded by another quantizer: the perplexity stays near the q4_0 prune's.
  const double ps = eval_ppl(sparse), pq = eval_ppl(dense);
  EXPECT_GT(ps, 1.0);
  EXPECT_LT(ps, 1.25 * pq) << "sparse " << ps << " vs q4_0 " << pq;
  // inspect --sparsity decodes the sparse blocks: the block weights are at least the sparsity.
  const auto i = test::run_edgefit({"inspect", "--json", "--sparsity", sparse});
  ASSERT_EQ(i.status, 0) << i.err;
  const nlohmann::json j = nlohmann::json::parse(i.out);
  const double want = sparsity == "2:4" ? 0.5 : std::stod(sparsity);
  int linear = 0;
  for (const auto& t : j["tensors"])
    if (is_block_linear_weight(t["name"].get<std::string>())) {
      EXPECT_GE(t["sparsity"].get<double>(), want) << t["name"];
      ++linear;
    }
  EXPECT_EQ(linear, 6 * 7);
}

TEST(PruneCommand, TwoOfFourStoredAsQ4_2of4) {
  check_sparse_prune("2:4", "q4_2of4", DType::Q4_2OF4);
}

TEST(PruneCommand, UnstructuredStoredAsQ4_QMask62) {
  check_sparse_prune("0.625", "q4_qmask62", DType::Q4_QMASK62);
}

// `edgefit quantize` takes the same --type on an already pruned (dense, exact zeros) model.
TEST(PruneCommand, QuantizeAPrunedModelToQ4_2of4) {
  const std::string out = test::scratch_dir("cli-prune-sparse-q") + "/q.gguf";
  const auto r = test::run_edgefit({"quantize", pruned("2:4", "f32"), out, "--type", "q4_2of4"});
  ASSERT_EQ(r.status, 0) << r.err;
  const GgufFile f(out), p(pruned("2:4", "q4_2of4"));
  EXPECT_EQ(f.find_tensor("blk.3.ffn_down.weight")->type, DType::Q4_2OF4);
  EXPECT_EQ(f.find_tensor("output.weight")->type, p.find_tensor("output.weight")->type);
}

TEST(PruneCommand, SparseTypeUsageErrors) {
  const std::string dir = test::scratch_dir("cli-prune-sparse-usage");
  const std::string out = dir + "/o.gguf";
  const std::vector<std::vector<std::string>> bad = {
      {"--sparsity", "2:4", "--type", "q4_qmask62"},
      {"--sparsity", "0.5", "--type", "q4_2of4"},
      {"--sparsity", "4:8", "--type", "q4_2of4"},
      {"--sparsity", "0.5", "--type", "q4_qmask62"},
      {"--sparsity", "0.6", "--type", "q4_mask62"},
      {"--sparsity", "0.625", "--type", "q4_qmask62", "--owl", "--calib", kHf + "/config.json"},
  };
  for (const auto& extra : bad) {
    std::vector<std::string> args = {"prune", kHf, out, "--method", "magnitude"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = test::run_edgefit(args);
    EXPECT_EQ(r.status, 2) << extra[1] << " " << extra[3] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("edgefit: usage error:", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(extra[3]), std::string::npos) << r.err;  // names the type
  }
  const auto s =
      test::run_edgefit({"prune", kHf, out, "--structured", "ffn=0.25", "--type", "q4_2of4"});
  EXPECT_EQ(s.status, 2) << s.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(out + ".work"));
}

}  // namespace
}  // namespace edgefit
