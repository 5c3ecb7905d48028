// The GPTQ-aware merged export end to end (issue 20): polyglot quantized to q3_k_m by GPTQ on the
// NTREX calibration text, a short LoRA recovery with --merged (GPTQ re-quantization with the
// adapted model's Hessians), and merge-lora of the same adapter (rounding). Against the f32
// model, the GPTQ-merged file's KLD must be lower than the rounded one's on the mean of the 12
// eval languages (docs/training.md has the full-text, per-language table). Minutes of CPU: slow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

std::vector<std::string> calib_files() {
  std::vector<std::string> files;
  for (const auto& e :
       std::filesystem::directory_iterator(test::shared_path("text/ntrex128/calib")))
    files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

nlohmann::json eval_json(const std::string& model, const std::string& base) {
  const auto r =
      test::run_edgefit({"eval", model, "--ctx", "256", "--base", base, "--lang-dir",
                         test::shared_path("text/ntrex128/eval"), "--max-chunks", "8", "--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

double mean_language_kld(const nlohmann::json& j) {
  double s = 0;
  for (const auto& [lang, v] : j["languages"].items()) s += v["kld_mean"].get<double>();
  return s / static_cast<double>(j["languages"].size());
}

TEST(RecoverGptqMerge, GptqMergeHasLowerKldThanRoundingOnPolyglot) {
  const std::string dir = test::scratch_dir("recover-gptq-merge");
  const std::string f32 = test::shared_path("models/polyglot/gguf/polyglot-f32.gguf");
  const std::vector<std::string> calib = calib_files();
  ASSERT_EQ(calib.size(), 12u);

  std::vector<std::string> q = {"quantize", f32,    dir + "/gq.gguf", "--type", "q3_k_m",
                                "--method", "gptq", "--samples",      "64",     "--calib"};
  q.insert(q.end(), calib.begin(), calib.end());
  auto r = test::run_edgefit(q);
  ASSERT_EQ(r.status, 0) << r.err;

  std::vector<std::string> rec = {
      "recover",       dir + "/gq.gguf", "--teacher",          f32,     "--steps", "60", "-o",
      dir + "/a.gguf", "--merged",       dir + "/m-gptq.gguf", "--data"};
  rec.insert(rec.end(), calib.begin(), calib.end());
  r = test::run_edgefit(rec);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("42 by GPTQ"), std::string::npos) << r.out;  // 7 projections × 6 blocks
  r = test::run_edgefit(
      {"merge-lora", dir + "/gq.gguf", "--lora", dir + "/a.gguf", "-o", dir + "/m-rtn.gguf"});
  ASSERT_EQ(r.status, 0) << r.err;

  const double gptq = mean_language_kld(eval_json(dir + "/m-gptq.gguf", f32));
  const double rtn = mean_language_kld(eval_json(dir + "/m-rtn.gguf", f32));
  std::printf("polyglot q3_k_m GPTQ + adapter: mean KLD %.5f merged by GPTQ, %.5f rounded\n", gptq,
              rtn);
  EXPECT_LT(gptq, rtn);
}

}  // namespace
}  // namespace edgefit
