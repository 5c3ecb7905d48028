// Slow: `edgefit quantize` outputs run through `edgefit eval --base polyglot-f32 --lang-dir …`
// (the NTREX-128 eval texts, context 256, llama-perplexity's protocol), and the KL-divergence of
// our q4_k_m+imatrix against llama.cpp's q4_k_m+imatrix file through the same evaluation
// (../shared/models/polyglot/README.md publishes 0.0019 for it on the full texts). The first
// kMaxChunks windows of each language keep the run to a couple of minutes on two cores (both
// files are evaluated on the same windows, so the comparison stays like for like). Runs the
// edgefit binary as a user would.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "test_data.h"

namespace edgefit {
namespace {

using test::scratch_dir;
using test::shared_path;

const std::string kEdgefit = std::string(EDGEFIT_BINARY_DIR) + "/edgefit";
const std::string kPolyF32 = shared_path("models/polyglot/gguf/polyglot-f32.gguf");
#if defined(__SANITIZE_ADDRESS__)
constexpr int kMaxChunks = 3;  // sanitizer builds check that it runs, not the numbers
constexpr bool kCompareWithLlamaCpp = false;
#else
constexpr int kMaxChunks = 16;
constexpr bool kCompareWithLlamaCpp = true;
#endif

// Runs a shell command; returns its stdout and exit status.
std::pair<std::string, int> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {"", -1};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(p);
  return {out, status};
}

nlohmann::json eval(const std::string& model) {
  const auto [out, status] =
      run(kEdgefit + " eval " + model + " --base " + kPolyF32 + " --lang-dir " +
          shared_path("text/ntrex128/eval") + " --ctx 256 --json --max-chunks " +
          std::to_string(kMaxChunks) + " 2>/dev/null");
  EXPECT_EQ(status, 0) << out;
  return nlohmann::json::parse(out);
}

// Mean over languages of each language's mean KLD (how the README's table averages).
double mean_language_kld(const nlohmann::json& j) {
  double sum = 0;
  int n = 0;
  for (const auto& [lang, r] : j.at("languages").items()) {
    sum += r.at("kld_mean").get<double>();
    ++n;
  }
  return n ? sum / n : 0;
}

TEST(QuantizeEval, OurQuantizationsEvaluateAndKldIsSmall) {
  const std::string dir = scratch_dir("quant-eval");
  struct Case {
    std::string preset, extra;
    double max_kld;  // generous bound on the mean KLD
  };
  const Case cases[] = {
      {"q8_0", "", 0.001},
      {"q4_0", "", 0.02},
      {"q4_k_m", " --imatrix " + shared_path("ref/polyglot/imatrix-ntrex-calib.llamacpp.dat"),
       0.005},
  };
  double ours = 0;  // mean KLD of our q4_k_m+imatrix
  for (const auto& c : cases) {
    SCOPED_TRACE(c.preset);
    const std::string out = dir + "/" + c.preset + ".gguf";
    const auto [qout, qstatus] = run(kEdgefit + " quantize " + kPolyF32 + " " + out + " --type " +
                                     c.preset + c.extra + " --quiet 2>&1");
    ASSERT_EQ(qstatus, 0) << qout;
    const nlohmann::json j = eval(out);
    const double kld = mean_language_kld(j);
    std::printf("%s%s: pooled KLD %.5f, mean over %zu languages %.5f, PPL %.3f (base %.3f)\n",
                c.preset.c_str(), c.extra.empty() ? "" : "+imatrix", j.at("kld_mean").get<double>(),
                j.at("languages").size(), kld, j.at("ppl").get<double>(),
                j.at("base_ppl").get<double>());
    for (const auto& [lang, r] : j.at("languages").items())
      std::printf("    %-8s PPL %8.3f  KLD %.5f\n", lang.c_str(), r.at("ppl").get<double>(),
                  r.at("kld_mean").get<double>());
    EXPECT_EQ(j.at("languages").size(), 12u);
    EXPECT_GT(kld, 0.0);
    EXPECT_LT(kld, c.max_kld);
    if (c.preset == "q4_k_m") ours = kld;
  }
  if (!kCompareWithLlamaCpp) return;
  // llama.cpp's file through the same evaluation, for a like-for-like comparison.
  const double ref =
      mean_language_kld(eval(shared_path("ref/polyglot/polyglot-q4_k_m-imatrix.llamacpp.gguf")));
  std::printf(
      "q4_k_m+imatrix mean KLD over languages: ours %.5f, llama.cpp %.5f "
      "(README, full texts: 0.0019)\n",
      ours, ref);
  EXPECT_LT(ours, ref * 1.25);
}

}  // namespace
}  // namespace edgefit
