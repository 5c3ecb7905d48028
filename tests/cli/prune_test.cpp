// `edgefit prune` as a user runs it: a magnitude 2:4 model without calibration text, the usage
// errors (no --calib where it is needed, an unknown method), 2:4 on rows that are not whole groups
// (one error line naming the tensor, exit 1, nothing written), and the output path check.
#include <gtest/gtest.h>

#include <filesystem>

#include "odd_ffn_model.h"
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

}  // namespace
}  // namespace edgefit
