// `edgefit prune MODEL OUT --structured SPEC --calib …` as a user runs it, on stories260K: the
// outputs (llama or deci GGUF, HF folder, keep-lists) and the refusals — a fraction outside
// [0, 1), layers >= the model's blocks, a keep-list out of range — each one `edgefit: error:` line
// naming the field, exit 1, nothing written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "formats/gguf.h"
#include "formats/model.h"
#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

const std::string kModel = test::shared_path("models/stories260K/gguf/stories260K-f32.gguf");

std::vector<std::string> prune_args(const std::string& out, const std::string& spec) {
  return {"prune",
          kModel,
          out,
          "--structured",
          spec,
          "--calib",
          test::shared_path("text/ntrex128/calib/eng-US.txt"),
          test::shared_path("text/ntrex128/calib/deu.txt"),
          "--calib-ctx",
          "64",
          "--calib-windows",
          "4"};
}

void expect_refused(const test::CommandResult& r, const std::string& part, const std::string& out) {
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(PruneStructuredCli, UniformSpecWritesLlamaAndKeepLists) {
  const std::string dir = test::scratch_dir("prune-structured-cli");
  const std::string out = dir + "/out.gguf", keep = dir + "/keep.json";
  auto args = prune_args(out, "heads=0.25,ffn=0.25,layers=1");
  args.insert(args.end(), {"--save-keep", keep, "--hf-out", dir + "/hf"});
  const auto r = test::run_edgefit(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("GGUF 'llama'"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("structured scores"), std::string::npos) << r.err;  // progress
  const Model m = load_model(out);
  EXPECT_EQ(m.config.n_layers, 4);
  EXPECT_EQ(m.config.n_kv_heads, 3);
  EXPECT_EQ(m.config.n_heads, 6);
  EXPECT_EQ(m.config.d_ff, 160);  // 172 - floor(0.25 · 172) = 129, rounded up to 32s
  EXPECT_EQ(load_model(dir + "/hf").config.d_ff, 160);
  // The saved keep-lists reproduce the same file without calibration.
  const auto again = test::run_edgefit({"prune", kModel, dir + "/again.gguf", "--keep", keep});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(fs::file_size(out), fs::file_size(dir + "/again.gguf"));
}

TEST(PruneStructuredCli, OutputEndingInSlashIsAHuggingFaceFolder) {
  const std::string dir = test::scratch_dir("prune-structured-hf");
  const auto r = test::run_edgefit(prune_args(dir + "/hf/", "ffn_global=0.3"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/hf/config.json"));
  EXPECT_TRUE(fs::exists(dir + "/hf/model.safetensors"));
  EXPECT_FALSE(load_model(dir + "/hf").config.uniform_widths());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // no temp
}

TEST(PruneStructuredCli, GlobalFfnWritesDeci) {
  const std::string dir = test::scratch_dir("prune-structured-deci");
  const auto r = test::run_edgefit(prune_args(dir + "/out.gguf", "ffn_global=0.3"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("GGUF 'deci'"), std::string::npos) << r.out;
  EXPECT_EQ(GgufFile(dir + "/out.gguf").get_string("general.architecture"), "deci");
  EXPECT_FALSE(load_model(dir + "/out.gguf").config.uniform_widths());
}

TEST(PruneStructuredCli, BadSpecsAndKeepListsAreOneErrorLineAndNoFile) {
  const std::string dir = test::scratch_dir("prune-structured-bad");
  const std::string out = dir + "/out.gguf";
  expect_refused(test::run_edgefit(prune_args(out, "heads=1.0")), "heads=1.0 is outside [0, 1)",
                 out);
  expect_refused(test::run_edgefit(prune_args(out, "ffn=0.25,layers=5")),
                 "layers=5 must be less than the model's 5 blocks", out);
  const std::string keep = dir + "/keep.json";
  std::ofstream(keep) << R"({"layers": [{"source_layer": 0, "kv_groups": [0, 4],
                             "ffn_channels": [0, 1]}]})";
  expect_refused(test::run_edgefit({"prune", kModel, out, "--keep", keep}),
                 "keep-list of KV groups of layer 0: index 4 is out of range [0, 4)", out);
  std::ofstream(keep) << R"({"layers": [{"source_layer": 9, "kv_groups": [0],
                             "ffn_channels": [0]}]})";
  expect_refused(test::run_edgefit({"prune", kModel, out, "--keep", keep}),
                 "layers[0] = 9 is out of range [0, 5)", out);
  const auto usage = test::run_edgefit({"prune", kModel, out, "--structured", "heads=0.5"});
  EXPECT_EQ(usage.status, 2) << usage.err;
  EXPECT_NE(usage.err.find("needs --calib"), std::string::npos) << usage.err;
}

}  // namespace
}  // namespace edgefit
